import { z } from "@hono/zod-openapi";

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

export const IdParam = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: "id", in: "path" }, example: "0b6b7c2e-5f44-4c1a-9d3b-1f9b0f0d2a10" }),
});

const errorResponse = (description: string) => ({
  content: { "application/json": { schema: ErrorBody } },
  description,
});

/** The error responses every authenticated route can give. */
export const errorResponses = {
  400: errorResponse("Malformed request"),
  401: errorResponse("Missing, invalid, revoked or expired API key"),
  403: errorResponse("The key lacks a scope or the caller is not allowed"),
  404: errorResponse("Not found (also for another workspace's ids)"),
  409: errorResponse("Conflict"),
  413: errorResponse("Body too large"),
  422: errorResponse("Semantically invalid"),
} as const;

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/**
 * 201 Created: the JSON of what was created and its path in `Location`. A new version of a versioned
 * resource (an approval policy, a workflow template) is created too, so an edit answers this as well.
 */
export const created = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  ...json(schema, description),
  headers: z.object({
    Location: z.string().openapi({ description: "The path of what was created (a new version's own id)" }),
  }),
});

export const jsonBody = <T extends z.ZodTypeAny>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/** A self-contained reference page (no CDN assets: it works offline, like the embedded default). */
export function renderDocsPage(document: {
  info: { title: string; version: string };
  paths?: Record<string, Record<string, { summary?: string; description?: string; tags?: string[] }>>;
}): string {
  const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
  const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (ch) => entities[ch] ?? ch);
  const rows = Object.entries(document.paths ?? {})
    .flatMap(([path, operations]) =>
      Object.entries(operations).map(
        ([method, op]) =>
          `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.tags?.join(", ") ?? "")}</td><td>${escapeHtml(op.summary ?? "")}</td></tr>`,
      ),
    )
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(document.info.title)} API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}code{font-size:.95em}</style></head>
<body><h1>${escapeHtml(document.info.title)} API <small>${escapeHtml(document.info.version)}</small></h1>
<p>Every <code>/v1</code> route needs <code>Authorization: Bearer &lt;API key&gt;</code>. Errors are <code>{"error":{"code","message","details"}}</code>.
The full OpenAPI 3.1 document, with every schema, is at <a href="/openapi.json">/openapi.json</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Area</th><th>Summary</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
}

export { Timestamp } from "./schemas";
