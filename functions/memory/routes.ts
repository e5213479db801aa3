import { createRouter } from "../shared/app";

export const memoryRoutes = createRouter();
