import { createRouter } from "../shared/app";
import { eventRoutes } from "./event-routes";
import { memoryItemRoutes } from "./memory-routes";

/** The memory context: memories and search; events, conversations and feedback. */
export const memoryRoutes = createRouter().route("/", memoryItemRoutes).route("/", eventRoutes);
