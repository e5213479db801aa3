import { createHash, randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { type Database, type PresentedKey, pgArray, rows } from "../../db/client";
import { type Actor, effectiveScopes, hasScope, SCOPES, type Scope } from "./actor";
import type { AppEnv } from "./env";
import { Forbidden, sqlState, Unauthorized } from "./errors";

/** Keys look like `cairn_<prefix>_<secret>`; the prefix is shown in listings, the rest never again. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString("hex");
  const key = `cairn_${prefix}_${randomBytes(24).toString("base64url")}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export const hashApiKey = (key: string) => createHash("sha256").update(key).digest("hex");

const KEY_SHAPE = /^cairn_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/;

interface AuthenticatedRow {
  workspace_id: string;
  user_id: string | null;
  api_key_id: string;
  scopes: string[] | string;
  role: Actor["role"];
  identity_verified: boolean;
  fingerprint: string;
}

/** A key as the last authentication found it: who it acts as, and the fingerprint of its grants. */
export interface Authentication {
  actor: Actor;
  key: PresentedKey;
}

/**
 * Keys this process authenticated, by hash. A request with a known key sends no authentication
 * statement of its own: its transaction's set-up checks the key again (`Tenant.key`), in the round
 * trip of its first statement. Bounded; the oldest entry goes first.
 */
const known = new Map<string, Authentication>();
const KNOWN_KEYS = 1000;

function remember(authentication: Authentication) {
  known.delete(authentication.key.hash);
  known.set(authentication.key.hash, authentication);
  if (known.size > KNOWN_KEYS) known.delete(known.keys().next().value as string);
}

/** Forgets a key (revoked, expired, or its grants changed): its next request authenticates afresh. */
export const forgetKey = (hash: string) => known.delete(hash);

/**
 * Authenticates a key in one statement (`cairn_authenticate`, migration 0009): the key by its
 * hash, its workspace, person and scopes, the member's current role, which caps the key's scopes
 * on every request (`effectiveScopes`). A missing, revoked or expired key is a 401.
 */
export async function authenticateKey(database: Database, presented: string): Promise<Authentication> {
  if (!KEY_SHAPE.test(presented)) throw new Unauthorized("The API key is malformed");
  const hash = hashApiKey(presented);
  // As cairn_app, which alone may run the function (the login role may hold no grant of its own).
  const [row] = await database.withSettings({}, (tx) =>
    rows<AuthenticatedRow>(tx, sql`select * from cairn_authenticate(${hash})`),
  );
  if (!row) throw new Unauthorized("The API key is not valid");
  const keyScopes = pgArray(row.scopes).filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
  const authentication: Authentication = {
    actor: {
      workspaceId: row.workspace_id,
      userId: row.user_id,
      apiKeyId: row.api_key_id,
      scopes: effectiveScopes(keyScopes, { service: row.user_id === null, role: row.role }),
      role: row.role,
      identityVerified: row.identity_verified,
    },
    key: { hash, fingerprint: row.fingerprint },
  };
  remember(authentication);
  return authentication;
}

/** The actor of a presented key (authenticated now, in one statement). */
export async function resolveApiKey(database: Database, presented: string): Promise<Actor> {
  return (await authenticateKey(database, presented)).actor;
}

/** What a failed transaction says about the request's key, if anything. */
export function keyFailure(error: unknown): "invalid" | "changed" | undefined {
  const code = sqlState(error);
  return code === "28000" ? "invalid" : code === "CA001" ? "changed" : undefined;
}

/** The presented key of a request, if it sent one (`Authorization: Bearer <key>`). */
export function bearerKey(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1];
}

/**
 * Resolves the request's key to its actor. A key this process already knows costs no statement
 * here: the request's transactions check it again in their set-up (`inTenant`), and a request
 * that ran none is checked once after its handler, so a revoked key fails on its very next request
 * either way.
 */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const presented = bearerKey(c.req.header("authorization"));
  if (!presented) throw new Unauthorized("Send the API key as `Authorization: Bearer <key>`");
  if (!KEY_SHAPE.test(presented)) throw new Unauthorized("The API key is malformed");
  const cached = known.get(hashApiKey(presented));
  const authentication = cached ?? (await authenticateKey(c.var.database, presented));
  c.set("actor", authentication.actor);
  c.set("credential", { key: authentication.key, checked: !cached, requiredScopes: [] });
  await next();
  if (!c.var.credential.checked) {
    // No transaction of this request checked the key: check it now (a route that reads no table).
    forgetKey(authentication.key.hash);
    const fresh = await authenticateKey(c.var.database, presented);
    if (fresh.key.fingerprint !== authentication.key.fingerprint) {
      throw new Forbidden("The API key's grants changed during the request; retry it");
    }
  }
};

/** Whether `actor` holds every scope the route asked for; a 403 naming the first missing one. */
export function assertScopes(actor: Actor, scopes: Scope[]): void {
  for (const scope of scopes) {
    if (!hasScope(actor, scope)) throw new Forbidden(`This API key lacks the '${scope}' scope`);
  }
}

export const requireScope =
  (scope: Scope): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    c.var.credential?.requiredScopes.push(scope);
    assertScopes(c.var.actor, [scope]);
    await next();
  };
