import { handle } from "hono/aws-lambda";
import { connect, type Database } from "../../db/client";
import { createApp, type AppOptions, type Router } from "./app";

let database: Promise<Database> | undefined;

/**
 * The database of a Lambda: one pool per container, opened on first use and reused by
 * every later invocation (DATABASE_URL is set by the infra from the linked Neon branch).
 */
export function lambdaDatabase(): Promise<Database> {
  database ??= connect(process.env.DATABASE_URL).catch((error) => {
    database = undefined;
    throw error;
  });
  return database;
}

/** A context's Lambda entry: its routers behind the shared middleware. */
export function lambdaHandler(routers: Router[], extra: Omit<AppOptions, "database" | "routers"> = {}) {
  return handle(createApp({ database: lambdaDatabase, routers, ...extra }));
}
