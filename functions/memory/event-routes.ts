import { createRouter } from "../shared/app";

export const eventRoutes = createRouter();
