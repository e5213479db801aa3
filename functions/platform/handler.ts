import { embeddingProvider } from "../memory/provider";
import { lambdaHandler } from "../shared/lambda";
import { platformRoutes } from "./routes";

/**
 * The platform context's Lambda. It also answers /health (with the embedding provider the
 * deployment is configured for) and serves the whole API's OpenAPI document (loaded on first use), generated from
 * every context's routes by `npm run openapi`.
 */
export const handler = lambdaHandler([platformRoutes], {
  // Loaded at the first /openapi.json or /docs request: a chunk of its own, not cold-start code.
  document: async () => (await import("./openapi.json")).default,
  health: () => ({ embedding: embeddingProvider().describe() }),
});
