import { lambdaHandler } from "../shared/lambda";
import { workOrderRoutes } from "./routes";

export const handler = lambdaHandler([workOrderRoutes]);
