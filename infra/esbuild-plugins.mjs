// esbuild plugins every Lambda bundle uses: SST loads this file (`nodejs.plugins` in
// infra/function-defaults.ts, a path relative to sst.config.ts) and `npm run build` imports
// it (scripts/build.ts), so the deploy and the checked bundles are built alike.
// Plain JavaScript because SST imports it as is.
import { dirname, join } from "node:path";

/**
 * Zod's `z.locales` / `core.locales` namespaces re-export every locale's error messages
 * (about 258 KiB minified, a third of a small bundle) and, being namespace re-exports, defeat
 * tree shaking. Cairn never calls `z.config(z.locales.xx())`; zod registers English itself
 * (zod/v4/classic/schemas.js imports `../locales/en.js` directly; zod/mini registers none). So zod's locale index is
 * replaced by one that exports `en` only: messages are unchanged.
 *
 * @type {import("esbuild").Plugin}
 */
export const zodEnglishOnly = {
  name: "zod-english-only",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/](core|classic|mini)[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), "..", "locales", "index.js"), namespace: "zod-english-only" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

export default [zodEnglishOnly];
