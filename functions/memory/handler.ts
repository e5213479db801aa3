import { lambdaHandler } from "../shared/lambda";
import { embeddingProvider } from "./provider";
import { memoryRoutes } from "./routes";

/** The memory context's Lambda: memories and search; events, conversations and feedback. */
export const handler = lambdaHandler([memoryRoutes], { health: () => ({ embedding: embeddingProvider().describe() }) });
