/**
 * API keys. A person's key acts as that person, and only that person creates it: with a key of
 * their own (`POST /v1/api-keys`), or by redeeming their invitation (invitations.ts). Nobody
 * creates a key that acts as someone else. Workloads use service keys (`"service": true`, made by
 * an admin): they act as no one and can never decide an approval. A key's scopes never exceed
 * its creator's, and a person's key is capped by their current role on every request
 * (functions/shared/actor.ts).
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, sql } from "drizzle-orm";
import { type Database, one, rows, type Tx } from "../../db/client";
import { apiKeys } from "../../db/schema";
import { UserError } from "../../db/user-error";
import { type Actor, actorRef, hasScope, Scope, systemActor, withinScopes } from "../shared/actor";
import { audit } from "../shared/audit";
import { generateApiKey } from "../shared/auth";
import { Conflict, Forbidden, Invalid, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { apiKeyColumns } from "./schemas";

export const KeyScopes = z.array(Scope).min(1).max(20);

export const CreateApiKeyInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    scopes: KeyScopes,
    expiresAt: z.coerce
      .date()
      .nullable()
      .optional()
      .openapi({ description: "When the key stops working (never if null)" }),
    service: z
      .boolean()
      .default(false)
      .openapi({ description: "A service key acts as no person (admins only; it can never decide an approval)" }),
  })
  .openapi("CreateApiKeyInput");

export function listApiKeys(tx: Tx, actor: Actor) {
  return tx
    .select(apiKeyColumns)
    .from(apiKeys)
    .where(eq(apiKeys.workspaceId, actor.workspaceId))
    .orderBy(desc(apiKeys.createdAt));
}

/** A key's secret is in the result and nowhere else, ever. */
export async function insertApiKey(
  tx: Tx,
  values: { workspaceId: string; name: string; scopes: Scope[]; userId: string | null; createdBy: string | null },
  expiresAt: Date | null = null,
) {
  const generated = generateApiKey();
  const key = one(
    await tx
      .insert(apiKeys)
      .values({
        ...values,
        scopes: [...new Set(values.scopes)],
        prefix: generated.prefix,
        keyHash: generated.hash,
        expiresAt,
      })
      .returning(apiKeyColumns),
  );
  return { ...key, key: generated.key };
}

/** A key for the caller (a person), or a service key (an admin): never with scopes beyond the caller's. */
export async function createApiKey(tx: Tx, actor: Actor, raw: z.input<typeof CreateApiKeyInput>, now = new Date()) {
  const input = parseInput(CreateApiKeyInput, raw);
  if (input.expiresAt && input.expiresAt <= now) throw new Invalid("expiresAt must be in the future");
  if (input.service && !hasScope(actor, "admin")) throw new Forbidden("Only an admin key may create service keys");
  if (!input.service && actor.userId === null) {
    throw new Forbidden("A service key acts as no person, so it cannot create a person's key; ask for a service key");
  }
  if (!withinScopes(input.scopes, actor.scopes)) {
    throw new Forbidden("A key cannot have scopes its creator does not have", {
      requested: input.scopes,
      yours: actor.scopes,
    });
  }
  const key = await insertApiKey(
    tx,
    {
      workspaceId: actor.workspaceId,
      name: input.name,
      scopes: input.scopes,
      userId: input.service ? null : actor.userId,
      createdBy: actor.userId,
    },
    input.expiresAt ?? null,
  );
  await audit(tx, actorRef(actor), {
    action: "api_key.created",
    entity: { type: "api_key", id: key.id },
    after: { name: input.name, scopes: key.scopes, service: input.service },
  });
  return key;
}

/**
 * The workspace's active keys that can administer it (an `admin` key of an OWNER or ADMIN, or an
 * `admin` service key), locked: changes that could take the last one away are serialised.
 */
export function adminKeys(tx: Tx, workspaceId: string) {
  return rows<{ id: string; user_id: string | null }>(
    tx,
    sql`select k.id, k.user_id from api_keys k
        left join workspace_members m on m.workspace_id = k.workspace_id and m.user_id = k.user_id
        where k.workspace_id = ${workspaceId}::uuid and k.revoked_at is null
          and (k.expires_at is null or k.expires_at > now()) and 'admin' = any(k.scopes)
          and (k.user_id is null or m.role in ('OWNER', 'ADMIN'))
        order by k.id
        for update of k`,
  );
}

/** Refuses a change that would leave the workspace with no key that can administer it. */
export async function keepAnAdminKey(
  tx: Tx,
  workspaceId: string,
  losing: (key: { id: string; user_id: string | null }) => boolean,
) {
  const keys = await adminKeys(tx, workspaceId);
  if (keys.length > 0 && keys.every(losing)) {
    throw new Conflict(
      "This would leave the workspace with no active key that can administer it; create another admin key first (npm start users: npm run admin -- create-key)",
    );
  }
}

/** Revokes a key: an admin any of the workspace's, a person their own. Never the last admin key. */
export async function revokeApiKey(tx: Tx, actor: Actor, id: string) {
  const [existing] = await tx
    .select(apiKeyColumns)
    .from(apiKeys)
    .where(and(eq(apiKeys.workspaceId, actor.workspaceId), eq(apiKeys.id, id)));
  if (!existing) throw new NotFound("API key", id);
  if (!hasScope(actor, "admin") && (actor.userId === null || existing.userId !== actor.userId)) {
    throw new Forbidden("Only an admin key may revoke another person's or a service key");
  }
  if (existing.revokedAt) return existing;
  await keepAnAdminKey(tx, actor.workspaceId, (key) => key.id === id);
  const revoked = one(
    await tx.update(apiKeys).set({ revokedAt: sql`now()` }).where(eq(apiKeys.id, id)).returning(apiKeyColumns),
  );
  await audit(tx, actorRef(actor), { action: "api_key.revoked", entity: { type: "api_key", id } });
  return revoked;
}

/**
 * Recovery when nobody can administer a workspace any more (every admin key revoked or lost): a
 * new admin key for an OWNER, made by an operator who holds the database itself — `npm run admin
 * -- create-key`, with the server stopped when it runs on the embedded PGlite. Runs as the
 * maintenance role; the workspace is the only one there is, or the one named.
 */
export async function createRecoveryKey(
  database: Database,
  options: { workspaceId?: string; email?: string; name?: string } = {},
) {
  return database.withMaintenance(async (tx) => {
    const owners = await rows<{ workspace_id: string; workspace_name: string; user_id: string; email: string }>(
      tx,
      sql`select w.id as workspace_id, w.name as workspace_name, m.user_id, u.email
          from workspaces w
          join workspace_members m on m.workspace_id = w.id and m.role = 'OWNER'
          join users u on u.id = m.user_id
          where (${options.workspaceId ?? null}::uuid is null or w.id = ${options.workspaceId ?? null}::uuid)
            and (${options.email ?? null}::text is null or u.email = lower(${options.email ?? ""}))
          order by w.created_at, m.created_at`,
    );
    const workspaces = [...new Set(owners.map((owner) => owner.workspace_id))];
    if (workspaces.length === 0) {
      throw new UserError("No workspace with such an owner: check --workspace and --email (npm run admin -- list)");
    }
    if (workspaces.length > 1) {
      const list = owners.map((owner) => `${owner.workspace_id} (${owner.workspace_name})`);
      throw new UserError(`Several workspaces: choose one with --workspace <id>: ${[...new Set(list)].join(", ")}`);
    }
    const [owner] = owners;
    if (!owner) throw new UserError("No owner found");
    await tx.execute(sql`select set_config('app.workspace_id', ${owner.workspace_id}, true)`);
    const key = await insertApiKey(tx, {
      workspaceId: owner.workspace_id,
      name: options.name ?? "recovery",
      scopes: ["admin"],
      userId: owner.user_id,
      createdBy: owner.user_id,
    });
    await audit(tx, systemActor(owner.workspace_id, "admin-cli"), {
      action: "api_key.created",
      entity: { type: "api_key", id: key.id },
      after: { name: key.name, scopes: key.scopes, recovery: true, for: owner.user_id },
    });
    return { ...key, workspaceId: owner.workspace_id, email: owner.email };
  });
}

/** Every workspace with its owners' addresses, for the operator choosing one. */
export function listWorkspacesForOperator(database: Database) {
  return database.withMaintenance((tx) =>
    rows<{ id: string; name: string; owners: string }>(
      tx,
      sql`select w.id, w.name, string_agg(u.email, ', ' order by u.email) as owners
          from workspaces w
          left join workspace_members m on m.workspace_id = w.id and m.role = 'OWNER'
          left join users u on u.id = m.user_id
          group by w.id, w.name, w.created_at order by w.created_at`,
    ),
  );
}
