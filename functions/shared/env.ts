import type { Database, PresentedKey } from "../../db/client";
import type { Actor, Scope } from "./actor";

/** The request's key: what its transactions check it against, and whether one did. */
export interface Credential {
  key: PresentedKey;
  checked: boolean;
  /** The scopes the route required (checked again if the key's grants changed mid-request). */
  requiredScopes: Scope[];
}

/** What every Cairn Hono app carries per request. */
export interface AppEnv {
  Variables: {
    database: Database;
    actor: Actor;
    credential: Credential;
    requestId: string;
  };
}
