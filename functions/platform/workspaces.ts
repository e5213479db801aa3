import { randomUUID } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, desc, eq, or, sql } from "drizzle-orm";
import { type Database, one, type Tx } from "../../db/client";
import { apiKeys, workspaceMembers, workspaces } from "../../db/schema";
import { type Actor, actorRef, type Scope } from "../shared/actor";
import { audit } from "../shared/audit";
import { generateApiKey, hashApiKey } from "../shared/auth";
import { BadRequest, Forbidden } from "../shared/errors";
import { after, type PageQuery, page } from "../shared/pagination";
import { parseInput } from "../shared/validation";
import { ensureUser } from "./members";

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

/**
 * Creates a workspace with `ownerId` as OWNER and an admin API key for it, all in `tx`.
 * The transaction switches its tenant to the new workspace (RLS only admits writes there).
 * `presetKey` lets `npm start` use a key from the environment (CAIRN_API_KEY).
 */
export async function provisionWorkspace(
  tx: Tx,
  input: CreateWorkspaceInput & { ownerId: string; presetKey?: string; identityVerified: boolean },
): Promise<ProvisionedWorkspace> {
  const workspaceId = randomUUID();
  await tx.execute(sql`select set_config('app.workspace_id', ${workspaceId}, true)`);
  const workspace = one(await tx.insert(workspaces).values({ id: workspaceId, name: input.name }).returning());
  await tx
    .insert(workspaceMembers)
    .values({ workspaceId, userId: input.ownerId, role: "OWNER", identityVerified: input.identityVerified });
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
        createdBy: input.ownerId,
      })
      .returning({ id: apiKeys.id }),
  );
  await audit(tx, actorRef({ workspaceId, userId: input.ownerId }), {
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
    return provisionWorkspace(tx, { name: input.name, ownerId, presetKey: input.presetKey, identityVerified: true });
  });
}

/**
 * `POST /v1/workspaces`: a new workspace owned by the caller (a person), with its own admin key.
 * The new membership is as verified as the caller's: a key from an unverified membership cannot
 * make itself a verified one this way.
 */
export function createWorkspace(tx: Tx, actor: Actor, input: CreateWorkspaceInput) {
  if (actor.userId === null) throw new Forbidden("A service key acts as no person, so it cannot own a workspace");
  return provisionWorkspace(tx, {
    ...parseInput(CreateWorkspaceInput, input),
    ownerId: actor.userId,
    identityVerified: actor.identityVerified,
  });
}

/**
 * The workspaces the caller sees: its own, and — from a verified membership (the person's own
 * identity, see invitations.ts) — the person's other verified ones. A service key sees its own.
 * (RLS: `member_can_list`, `own_memberships`.)
 */
/** The caller's workspaces (see the route), newest first, a page at a time. */
export async function listWorkspaces(tx: Tx, actor: Actor, query: PageQuery) {
  const others = actor.identityVerified
    ? and(eq(workspaceMembers.userId, sql`cairn_current_user()`), eq(workspaceMembers.identityVerified, true))
    : undefined;
  const own = eq(workspaces.id, actor.workspaceId);
  const found = await tx
    .select({
      id: workspaces.id,
      name: workspaces.name,
      role: workspaceMembers.role,
      createdAt: workspaces.createdAt,
    })
    .from(workspaces)
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, workspaces.id), eq(workspaceMembers.userId, sql`cairn_current_user()`)),
    )
    .where(and(others ? or(own, others) : own, after(workspaces.createdAt, workspaces.id, query.cursor)))
    .orderBy(desc(workspaces.createdAt), desc(workspaces.id))
    .limit(query.limit + 1);
  return page(found, query.limit);
}
