import { lambdaExternals, lambdaMainFields } from "./bundling";

/**
 * The settings every Cairn function shares, in one place; each function states only what
 * differs (usually `timeout` and `memory`).
 */
export const functionDefaults = {
  runtime: "nodejs22.x",
  // Graviton: about 20% cheaper per GB-second than x86, and as fast for this I/O-bound work.
  // Nothing we bundle is native code, so the architecture is free to choose.
  architecture: "arm64",
  // Lambda allots CPU in proportion to memory. 1024 MB (about 60% of a vCPU) keeps cold
  // starts and JSON/zod/crypto work quick; the functions hold little data in memory.
  memory: "1024 MB",
  // HTTP API integrations give up after 30 s; a function running longer would only burn
  // money, and a timeout logged by Lambda is easier to find than a 503 from the gateway.
  timeout: "29 seconds",
  logging: { retention: "1 month" },
  nodejs: {
    format: "esm",
    minify: true,
    // `import()` targets become chunks loaded at first use (as `npm run build` bundles them).
    splitting: true,
    // The same externals `npm run build` checks bundles against (see infra/bundling.ts).
    esbuild: { external: lambdaExternals, mainFields: lambdaMainFields },
    // The esbuild plugins `npm run build` uses too (path relative to sst.config.ts).
    plugins: "./infra/esbuild-plugins.mjs",
  },
} satisfies Partial<sst.aws.FunctionArgs>;

export type CairnFunctionArgs = Omit<sst.aws.FunctionArgs, "link" | "environment"> & {
  link?: unknown[];
  environment?: Record<string, $util.Input<string>>;
};

/** A function with the shared defaults; `args` override them key by key. */
export function defineFunction(name: string, args: CairnFunctionArgs, opts?: $util.ComponentResourceOptions) {
  return new sst.aws.Function(name, { ...functionDefaults, ...args }, opts);
}

/** `sst.aws.Queue` takes whole-second durations; visibility timeouts are derived from function timeouts. */
export const seconds = (n: number) => `${n} seconds` as const;
