import { randomUUID } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { type Database, one, type Tx } from "../../db/client";
import { apiKeys, users, workspaceMembers, workspaces } from "../../db/schema";
import { type Actor, actorRef, type Scope } from "../shared/actor";
import { audit } from "../shared/audit";
import { generateApiKey, hashApiKey } from "../shared/auth";
import { BadRequest } from "../shared/errors";
import { parseInput } from "../shared/validation";

export const CreateWorkspaceInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
  })
  .openapi("CreateWorkspaceInput");
export type CreateWorkspaceInput = z.infer<typeof CreateWorkspaceInput>;

export interface ProvisionedWorkspace {
  workspace: typeof workspaces.$inferSelect;
  userId: string;
  apiKey: { id: string; key: string; prefix: string; scopes: Scope[] };
}

/** Finds a user by email or creates one; users are not tenant data (no RLS). */
export async function ensureUser(tx: Tx, email: string, name?: string | null): Promise<string> {
  const normalized = email.trim().toLowerCase();
  const [created] = await tx
    .insert(users)
    .values({ email: normalized, name: name ?? null })
    .onConflictDoNothing({ target: users.email })
    .returning({ id: users.id });
  if (created) return created.id;
  const existing = one(await tx.select({ id: users.id }).from(users).where(eq(users.email, normalized)));
  return existing.id;
}

/**
 * Creates a workspace with `ownerId` as OWNER and an admin API key for it, all in `tx`.
 * The transaction switches its tenant to the new workspace (RLS only admits writes there).
 * `presetKey` lets `npm start` use a key from the environment (CAIRN_API_KEY).
 */
export async function provisionWorkspace(
  tx: Tx,
  input: CreateWorkspaceInput & { ownerId: string; presetKey?: string; actorUserId?: string },
): Promise<ProvisionedWorkspace> {
  const workspaceId = randomUUID();
  await tx.execute(sql`select set_config('app.workspace_id', ${workspaceId}, true)`);
  const workspace = one(await tx.insert(workspaces).values({ id: workspaceId, name: input.name }).returning());
  await tx.insert(workspaceMembers).values({ workspaceId, userId: input.ownerId, role: "OWNER" });
  const generated = input.presetKey ? presetApiKey(input.presetKey) : generateApiKey();
  const scopes: Scope[] = ["admin"];
  const key = one(
    await tx
      .insert(apiKeys)
      .values({
        workspaceId,
        name: "admin",
        prefix: generated.prefix,
        keyHash: generated.hash,
        scopes,
        userId: input.ownerId,
        createdBy: input.actorUserId ?? input.ownerId,
      })
      .returning({ id: apiKeys.id }),
  );
  await audit(tx, actorRef({ workspaceId, userId: input.actorUserId ?? input.ownerId }), {
    action: "workspace.created",
    entity: { type: "workspace", id: workspaceId },
    after: { name: input.name },
  });
  return {
    workspace: workspace,
    userId: input.ownerId,
    apiKey: { id: key.id, key: generated.key, prefix: generated.prefix, scopes },
  };
}

function presetApiKey(key: string) {
  const match = /^cairn_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/.exec(key);
  if (!match) throw new BadRequest("CAIRN_API_KEY must look like cairn_<12 hex>_<32 base64url characters>");
  return { key, prefix: key.slice("cairn_".length, "cairn_".length + 12), hash: hashApiKey(key) };
}

/** A fresh database's first workspace, its owner and an admin key (npm start, tests). */
export async function bootstrapWorkspace(
  database: Database,
  input: { name: string; email: string; presetKey?: string },
): Promise<ProvisionedWorkspace> {
  return database.withSettings({}, async (tx) => {
    const ownerId = await ensureUser(tx, input.email);
    await tx.execute(sql`select set_config('app.user_id', ${ownerId}, true)`);
    return provisionWorkspace(tx, { name: input.name, ownerId, presetKey: input.presetKey });
  });
}

/** `POST /v1/workspaces`: a new workspace owned by the caller's user, with its own admin key. */
export function createWorkspace(tx: Tx, actor: Actor, input: CreateWorkspaceInput) {
  return provisionWorkspace(tx, {
    ...parseInput(CreateWorkspaceInput, input),
    ownerId: actor.userId,
    actorUserId: actor.userId,
  });
}

/** Workspaces the caller's user belongs to (RLS policy `member_can_list`). */
export async function listWorkspaces(tx: Tx) {
  return tx
    .select({
      id: workspaces.id,
      name: workspaces.name,
      role: workspaceMembers.role,
      createdAt: workspaces.createdAt,
    })
    .from(workspaces)
    .innerJoin(workspaceMembers, eq(workspaceMembers.workspaceId, workspaces.id))
    .where(eq(workspaceMembers.userId, sql`cairn_current_user()`))
    .orderBy(workspaces.createdAt);
}
