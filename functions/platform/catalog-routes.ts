import { createRouter } from "../shared/app";

export const catalogRoutes = createRouter();
