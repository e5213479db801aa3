/**
 * `/docs`: the API reference, rendered in the browser by Scalar from `/openapi.json`.
 * Scalar's standalone bundle (one script, its styles inside) is served by the app itself from
 * the `@scalar/api-reference` package: no CDN, so the page works offline. It is read from disk
 * on the first request for it (no function bundles it; infra/api.ts copies the file into the
 * platform function, which API Gateway sends /docs to) and kept in memory, gzipped when the
 * browser accepts it (4.8 MB as text, under 1.5 MB gzipped: a Lambda response is at most 6 MB).
 * The page's Content-Security-Policy lets it load and fetch from its own origin only, and
 * Scalar's own calls home (fonts, telemetry, its request proxy, its AI agent) are switched off.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";

export const DOCS_SCRIPT_PATH = "/docs/api-reference.js";
/** Where the Lambda package holds the script, relative to the function's root (its working directory). */
export const DOCS_SCRIPT_BUNDLED = "docs-assets/api-reference.js";

/** The standalone bundle in node_modules (the package exports no path to it, so from its main entry). */
export function docsScriptSource(): string {
  const resolver = createRequire(import.meta.url);
  return join(dirname(resolver.resolve("@scalar/api-reference")), "browser", "standalone.js");
}

export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Scalar's configuration: the document from this origin, and nothing fetched from anywhere else. */
const CONFIGURATION = {
  url: "/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: false,
  showDeveloperTools: "never",
  agent: { disabled: true },
  mcp: { disabled: true },
  documentDownloadType: "json",
  hiddenClients: true,
  defaultOpenAllTags: false,
};

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const escapeAttribute = (text: string) => text.replace(/[&<>"]/g, (ch) => ENTITIES[ch] ?? ch);

/** The page: Scalar reads its configuration from the empty script element (no inline script to allow). */
export function renderDocsPage(title: string): string {
  const safeTitle = escapeAttribute(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safeTitle} API reference</title>
</head>
<body>
<script id="api-reference" data-url="${CONFIGURATION.url}" data-configuration="${escapeAttribute(JSON.stringify(CONFIGURATION))}"></script>
<script src="${DOCS_SCRIPT_PATH}"></script>
</body>
</html>`;
}

interface DocsScript {
  plain: Uint8Array;
  gzipped: Uint8Array;
}
let loaded: Promise<DocsScript> | undefined;

/** The script, read once (from the Lambda package if it is there, else from node_modules). */
export function docsScript(): Promise<DocsScript> {
  loaded ??= (async () => {
    const plain = await readFile(existsSync(DOCS_SCRIPT_BUNDLED) ? DOCS_SCRIPT_BUNDLED : docsScriptSource());
    return { plain, gzipped: gzipSync(plain) };
  })();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}
