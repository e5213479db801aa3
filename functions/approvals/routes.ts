import { createRouter } from "../shared/app";

export const approvalRoutes = createRouter();
