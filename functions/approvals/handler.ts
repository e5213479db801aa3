import { lambdaHandler } from "../shared/lambda";
import { approvalRoutes } from "./routes";

export const handler = lambdaHandler([approvalRoutes]);
