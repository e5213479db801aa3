import { createRouter } from "../shared/app";
import { policyRoutes } from "./policy-routes";
import { requestRoutes } from "./request-routes";

/** The approvals context's routes, one file per resource. */
export const approvalRoutes = createRouter().route("/", requestRoutes).route("/", policyRoutes);
