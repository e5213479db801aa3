import { createRouter } from "../shared/app";
import { conversationRoutes } from "./conversation-routes";
import { eventRoutes } from "./event-routes";
import { memoryItemRoutes } from "./memory-routes";

/** The memory context's routes, one file per resource: memories and search; events; conversations and feedback. */
export const memoryRoutes = createRouter()
  .route("/", memoryItemRoutes)
  .route("/", eventRoutes)
  .route("/", conversationRoutes);
