/**
 * Members and their roles. Adding a member invites them: the answer carries a single-use
 * invitation whose secret the person redeems for their own first key (invitations.ts). What the
 * workspace learns of the person is what it wrote itself (the address it typed, the name it gave):
 * adding an address that another workspace knows looks exactly like adding a new one.
 *
 * Roles: nobody grants a role above their own, only an OWNER grants or removes OWNER, a workspace
 * keeps at least one OWNER, and no change may leave it without a key that can administer it.
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client";
import { apiKeys, users, workspaceMembers } from "../../db/schema";
import { type Actor, actorRef, outranks, type MemberRole as Role } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, Forbidden, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { keepAnAdminKey } from "./api-keys";
import { issueInvitation } from "./invitations";
import { MemberRole, memberColumns } from "./schemas";

export const AddMemberInput = z
  .strictObject({
    email: z.string().trim().email().max(320),
    name: z.string().trim().max(200).optional().openapi({ description: "The person's name in this workspace" }),
    role: MemberRole.default("MEMBER"),
  })
  .openapi("AddMemberInput");

export const UpdateMemberInput = z.strictObject({ role: MemberRole }).openapi("UpdateMemberInput");

const members = (tx: Tx) =>
  tx.select(memberColumns).from(workspaceMembers).innerJoin(users, eq(users.id, workspaceMembers.userId));

export function listMembers(tx: Tx, actor: Actor) {
  return members(tx)
    .where(eq(workspaceMembers.workspaceId, actor.workspaceId))
    .orderBy(desc(workspaceMembers.createdAt));
}

export async function getMember(tx: Tx, actor: Actor, userId: string) {
  const [member] = await members(tx).where(
    and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.userId, userId)),
  );
  if (!member) throw new NotFound("Member", userId);
  return member;
}

/** Who may give (or take) `role`: a person whose own role outranks it. */
function assertMayGrant(actor: Actor, role: Role, verb: string) {
  if (!outranks(actor.role, role)) {
    throw new Forbidden(
      actor.role === null
        ? `Only a person may ${verb} a member's role (a service key acts as no one)`
        : `A ${actor.role} cannot ${verb} the role ${role}${role === "OWNER" ? " (only an OWNER can)" : ""}`,
      { yourRole: actor.role, role },
    );
  }
}

/**
 * Finds or creates the person by address, through `cairn_ensure_user` (migration 0007): it answers
 * an id either way and nothing else, so whether another workspace knows the address stays unknown.
 */
export async function ensureUser(tx: Tx, email: string): Promise<string> {
  const [found] = await rows<{ id: string }>(tx, sql`select cairn_ensure_user(${email}) as id`);
  if (!found?.id) throw new Error("cairn_ensure_user returned no id");
  return found.id;
}

export async function addMember(tx: Tx, actor: Actor, raw: z.input<typeof AddMemberInput>) {
  const input = parseInput(AddMemberInput, raw);
  assertMayGrant(actor, input.role, "grant");
  const userId = await ensureUser(tx, input.email);
  const [inserted] = await tx
    .insert(workspaceMembers)
    .values({ workspaceId: actor.workspaceId, userId, role: input.role, displayName: input.name ?? null })
    .onConflictDoNothing()
    .returning({ userId: workspaceMembers.userId });
  if (!inserted) throw new Conflict(`${input.email} is already a member of this workspace`);
  const invitation = await issueInvitation(tx, actor, userId);
  await audit(tx, actorRef(actor), {
    action: "member.invited",
    entity: { type: "user", id: userId },
    after: { role: input.role, invitationId: invitation.id, expiresAt: invitation.expiresAt },
  });
  return { member: await getMember(tx, actor, userId), invitation };
}

/** The workspace's OWNER rows, locked: role changes that could take the last owner away are serialised. */
async function lockOwners(tx: Tx, workspaceId: string) {
  return tx
    .select({ userId: workspaceMembers.userId })
    .from(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, workspaceId), eq(workspaceMembers.role, "OWNER")))
    .for("update");
}

/**
 * The last OWNER cannot be demoted or removed: a workspace always has one. The owner rows
 * are locked, so two concurrent demotions of the last two owners are serialised and the
 * second one sees a single owner left.
 */
async function assertNotLastOwner(tx: Tx, actor: Actor, userId: string) {
  const owners = await lockOwners(tx, actor.workspaceId);
  if (owners.length <= 1 && owners.some((owner) => owner.userId === userId)) {
    throw new Conflict("A workspace must keep at least one OWNER");
  }
}

export async function updateMember(tx: Tx, actor: Actor, userId: string, raw: z.input<typeof UpdateMemberInput>) {
  const input = parseInput(UpdateMemberInput, raw);
  const before = await getMember(tx, actor, userId);
  assertMayGrant(actor, before.role, "change");
  assertMayGrant(actor, input.role, "grant");
  if (input.role !== "OWNER") await assertNotLastOwner(tx, actor, userId);
  if (input.role !== "OWNER" && input.role !== "ADMIN") {
    await keepAnAdminKey(tx, actor.workspaceId, (key) => key.user_id === userId);
  }
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
export async function removeMember(tx: Tx, actor: Actor, userId: string) {
  const before = await getMember(tx, actor, userId);
  assertMayGrant(actor, before.role, "remove");
  await assertNotLastOwner(tx, actor, userId);
  await keepAnAdminKey(tx, actor.workspaceId, (key) => key.user_id === userId);
  await tx
    .delete(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.userId, userId)));
  const revoked = await tx
    .update(apiKeys)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiKeys.workspaceId, actor.workspaceId), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  await audit(tx, actorRef(actor), {
    action: "member.removed",
    entity: { type: "user", id: userId },
    before: { role: before.role },
    after: { apiKeysRevoked: revoked.map((key) => key.id) },
  });
}

/** A new invitation for a member who has lost their key (their earlier unredeemed ones stop working). */
export async function reinviteMember(tx: Tx, actor: Actor, userId: string) {
  const member = await getMember(tx, actor, userId);
  assertMayGrant(actor, member.role, "invite");
  const invitation = await issueInvitation(tx, actor, userId);
  await audit(tx, actorRef(actor), {
    action: "member.invited",
    entity: { type: "user", id: userId },
    after: { role: member.role, invitationId: invitation.id, expiresAt: invitation.expiresAt, again: true },
  });
  return { member, invitation };
}
