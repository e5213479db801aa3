import { z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { apiKeys, users, workspaceMembers } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { MemberRole, memberColumns } from "./schemas";
import { ensureUser } from "./workspaces";

export const AddMemberInput = z
  .strictObject({
    email: z.string().trim().email().max(320),
    name: z.string().trim().max(200).optional(),
    role: MemberRole.default("MEMBER"),
  })
  .openapi("AddMemberInput");

export const UpdateMemberInput = z.strictObject({ role: MemberRole }).openapi("UpdateMemberInput");

export function listMembers(tx: Tx, actor: Actor) {
  return tx
    .select(memberColumns)
    .from(workspaceMembers)
    .innerJoin(users, eq(users.id, workspaceMembers.userId))
    .where(eq(workspaceMembers.workspaceId, actor.workspaceId))
    .orderBy(desc(workspaceMembers.createdAt));
}

async function getMember(tx: Tx, actor: Actor, userId: string) {
  const [member] = await tx
    .select(memberColumns)
    .from(workspaceMembers)
    .innerJoin(users, eq(users.id, workspaceMembers.userId))
    .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.userId, userId)));
  if (!member) throw new NotFound("Member", userId);
  return member;
}

export async function addMember(tx: Tx, actor: Actor, raw: z.input<typeof AddMemberInput>) {
  const input = parseInput(AddMemberInput, raw);
  const userId = await ensureUser(tx, input.email, input.name);
  const [inserted] = await tx
    .insert(workspaceMembers)
    .values({ workspaceId: actor.workspaceId, userId, role: input.role })
    .onConflictDoNothing()
    .returning({ userId: workspaceMembers.userId });
  if (!inserted) throw new Conflict(`${input.email} is already a member of this workspace`);
  await audit(tx, actorRef(actor), {
    action: "member.added",
    entity: { type: "user", id: userId },
    after: { role: input.role },
  });
  return getMember(tx, actor, userId);
}

/**
 * The last OWNER cannot be demoted or removed: a workspace always has one. The owner rows
 * are locked, so two concurrent demotions of the last two owners are serialised and the
 * second one sees a single owner left.
 */
async function assertNotLastOwner(tx: Tx, actor: Actor, userId: string) {
  const owners = await tx
    .select({ userId: workspaceMembers.userId })
    .from(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.role, "OWNER")))
    .for("update");
  if (owners.length <= 1 && owners.some((owner) => owner.userId === userId)) {
    throw new Conflict("A workspace must keep at least one OWNER");
  }
}

export async function updateMember(tx: Tx, actor: Actor, userId: string, raw: z.input<typeof UpdateMemberInput>) {
  const input = parseInput(UpdateMemberInput, raw);
  const before = await getMember(tx, actor, userId);
  if (input.role !== "OWNER") await assertNotLastOwner(tx, actor, userId);
  await tx
    .update(workspaceMembers)
    .set({ role: input.role })
    .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.userId, userId)));
  await audit(tx, actorRef(actor), {
    action: "member.role_changed",
    entity: { type: "user", id: userId },
    before: { role: before.role },
    after: { role: input.role },
  });
  return getMember(tx, actor, userId);
}

/** Removes the member and revokes their API keys in this workspace: a former member's key must not keep its scopes. */
export async function removeMember(tx: Tx, actor: Actor, userId: string, now = new Date()) {
  const before = await getMember(tx, actor, userId);
  await assertNotLastOwner(tx, actor, userId);
  await tx
    .delete(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.userId, userId)));
  const revoked = await tx
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.workspaceId, actor.workspaceId), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  await audit(tx, actorRef(actor), {
    action: "member.removed",
    entity: { type: "user", id: userId },
    before: { role: before.role },
    after: { apiKeysRevoked: revoked.map((key) => key.id) },
  });
}
