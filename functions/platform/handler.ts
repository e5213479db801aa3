import { embeddingProvider } from "../memory/provider";
import { lambdaHandler } from "../shared/lambda";
import document from "./openapi.json";
import { platformRoutes } from "./routes";

/**
 * The platform context's Lambda. It also answers /health (with the embedding provider the
 * deployment is configured for) and serves the whole API's OpenAPI document, generated from
 * every context's routes by `npm run openapi`.
 */
export const handler = lambdaHandler([platformRoutes], {
  document,
  health: () => ({ embedding: embeddingProvider().describe() }),
});
