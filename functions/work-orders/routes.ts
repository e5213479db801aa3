import { createRouter } from "../shared/app";

export const workOrderRoutes = createRouter();
