import { createRouter } from "../shared/app";

export const memoryItemRoutes = createRouter();
