import { handle } from "hono/aws-lambda";
import { type AppOptions, createApp, type Router } from "./app";
import { lambdaDatabase } from "./lambda-database";

/** A context's Lambda entry: its routers behind the shared middleware. */
export function lambdaHandler(routers: Router[], extra: Omit<AppOptions, "database" | "routers"> = {}) {
  return handle(createApp({ database: lambdaDatabase, routers, ...extra }));
}
