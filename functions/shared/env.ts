import type { Database } from "../../db/client";
import type { Actor } from "./actor";

/** What every Cairn Hono app carries per request. */
export interface AppEnv {
  Variables: {
    database: Database;
    actor: Actor;
    requestId: string;
  };
}
