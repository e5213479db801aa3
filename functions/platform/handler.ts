import { lambdaHandler } from "../shared/lambda";
import { platformRoutes } from "./routes";

export const handler = lambdaHandler([platformRoutes]);
