/**
 * Builds the console (console/src, a Preact single-page app) with esbuild: hashed ES modules and
 * CSS under `assets/`, and `index.html` naming them. `npm start` builds it in memory on the first
 * request to /console (console/serve.ts); `npm run build` writes it to dist/console for the static
 * site (infra/console.ts). Nothing here is imported by a Lambda.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { CONSOLE_CSP } from "./csp";

const consoleDir = dirname(fileURLToPath(import.meta.url));
/** Where `npm run build` writes the static site. */
export const consoleOutdir = join(consoleDir, "..", "dist", "console");
/**
 * Where the console lives on its origin: /console/ under `npm start` and behind the deployed
 * router (infra/console.ts). The page names its files from there, so /console without the
 * trailing slash works too.
 */
export const CONSOLE_BASE = "/console/";

export interface ConsoleFile {
  /** Relative to the console's root, with forward slashes: `index.html`, `assets/main-3F2A….js`. */
  path: string;
  contentType: string;
  body: Uint8Array;
  /** Loaded only when needed (a dynamic import), not with the page. */
  lazy: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};
const contentType = (path: string) => CONTENT_TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";

/** Builds the console; with `outdir`, also writes it there (after emptying it). */
export async function buildConsole(options: { outdir?: string; minify?: boolean } = {}): Promise<ConsoleFile[]> {
  const assetsDir = join(consoleOutdir, "assets");
  const result = await build({
    absWorkingDir: join(consoleDir, ".."),
    entryPoints: { main: join(consoleDir, "src", "main.tsx") },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: options.minify ?? true,
    outdir: assetsDir,
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
    legalComments: "eof",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const root = join(consoleDir, "..");
  const key = (path: string) => relative(root, path).split("\\").join("/");
  // What the page loads up front: the entry and whatever it imports statically, transitively.
  const eager = new Set<string>();
  const visit = (output: string) => {
    if (eager.has(output)) return;
    eager.add(output);
    for (const imported of result.metafile.outputs[output]?.imports ?? []) {
      if (imported.kind === "import-statement") visit(imported.path);
    }
    const css = result.metafile.outputs[output]?.cssBundle;
    if (css) eager.add(css);
  };
  const mainEntry = key(join(consoleDir, "src", "main.tsx"));
  for (const [output, meta] of Object.entries(result.metafile.outputs))
    if (meta.entryPoint === mainEntry) visit(output);
  const assets = result.outputFiles.map((file) => ({
    path: `assets/${relative(assetsDir, file.path).split("\\").join("/")}`,
    contentType: contentType(file.path),
    body: file.contents,
    lazy: !eager.has(key(file.path)),
  }));
  const script = assets.find((file) => /^assets\/main-[^/]+\.js$/.test(file.path));
  const style = assets.find((file) => /^assets\/main-[^/]+\.css$/.test(file.path));
  if (!script || !style) throw new Error("console build: the entry's script or stylesheet is missing");
  const template = await readFile(join(consoleDir, "index.html"), "utf8");
  const html = template
    .replace("{{csp}}", CONSOLE_CSP.replace(/; frame-ancestors 'none'/, "")) // not allowed in a <meta>
    .replace("{{script}}", `${CONSOLE_BASE}${script.path}`)
    .replace("{{style}}", `${CONSOLE_BASE}${style.path}`);
  const files: ConsoleFile[] = [
    { path: "index.html", contentType: contentType(".html"), body: new TextEncoder().encode(html), lazy: false },
    ...assets,
  ];
  if (options.outdir) await writeConsole(files, options.outdir);
  return files;
}

async function writeConsole(files: ConsoleFile[], outdir: string): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  for (const file of files) {
    const target = join(outdir, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.body);
  }
}

/** Total bytes of the built files, for `npm run build`'s report. */
export const consoleBytes = (files: ConsoleFile[]) => files.reduce((sum, file) => sum + file.body.byteLength, 0);

// `npm run build:console`: the static site alone (what infra/console.ts deploys).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildConsole({ outdir: consoleOutdir }).then(
    (files) => console.log(`console -> ${relative(process.cwd(), consoleOutdir)}: ${files.length} files`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
