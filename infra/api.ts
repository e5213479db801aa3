/**
 * The HTTP API: one API Gateway HTTP API, one Lambda per bounded context, and every route
 * key of `functions/contexts.ts` pointed at its context's Lambda. The route table lives
 * there, not here, so the local server, this file and the route-coverage test cannot drift.
 */
import { type ContextName, contexts } from "../functions/contexts";
import { docsAsset } from "./bundling";
import { defineDatabaseFunction } from "./database";
import { embeddingEnvironment } from "./embedding";
import type { CairnFunctionArgs } from "./function-defaults";
import { ingestQueue } from "./jobs";
import { embeddingApiKey } from "./secrets";

const functionNames: Record<ContextName, string> = {
  platform: "Platform",
  workOrders: "WorkOrders",
  approvals: "Approvals",
  memory: "Memory",
  mcp: "Mcp",
};

/** What a context needs beyond the defaults and the database. */
const contextSettings: Record<ContextName, Partial<CairnFunctionArgs>> = {
  // /docs: Scalar's standalone script, read from disk on its first request (functions/shared/docs-page.ts).
  platform: { copyFiles: [{ from: docsAsset.from, to: docsAsset.to }] },
  workOrders: {},
  approvals: {},
  memory: {
    // Embeds on write and on search; after storing events it nudges the ingest queue.
    link: [embeddingApiKey, ingestQueue],
    environment: { ...embeddingEnvironment, CAIRN_INGEST_QUEUE_URL: ingestQueue.url },
  },
  // remember and search_memories embed text, as the memory context does.
  mcp: { link: [embeddingApiKey], environment: embeddingEnvironment },
};

export const contextLambdas = Object.fromEntries(
  (Object.keys(contexts) as ContextName[]).map((context) => {
    const fn = defineDatabaseFunction(functionNames[context], {
      handler: contexts[context].handler,
      description: `Cairn ${context} API`,
      ...contextSettings[context],
    });
    return [context, fn];
  }),
) as Record<ContextName, sst.aws.Function>;

export const api = new sst.aws.ApiGatewayV2("Api");

for (const context of Object.keys(contexts) as ContextName[]) {
  // By ARN: one function per context, shared by all of its routes.
  const arn = contextLambdas[context].arn.apply((value) => value as `arn:${string}`);
  for (const route of contexts[context].routes) api.route(route, arn);
}
