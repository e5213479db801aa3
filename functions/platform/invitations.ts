/**
 * Invitations: how a person gets their first key in a workspace. Adding a member issues one; its
 * secret (only a SHA-256 is stored) is shown once, to the admin who invited, to hand to the
 * person. `POST /v1/invitations/accept` with the secret alone redeems it, once, for the person's
 * own key, with scopes the person's role allows.
 *
 * Identity: a person may be a member of several workspaces, and a key lists the person's other
 * workspaces only from a verified membership. Redeeming verifies the membership when the person
 * has no verified membership yet (someone new to Cairn), or when the request also presents one of
 * the person's own keys from a verified membership (`Authorization: Bearer <key>`). Otherwise the
 * key works in this workspace only: whoever redeemed another workspace's invitation for an address
 * learns nothing of the person's other workspaces.
 */
import { createHash, randomBytes } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, eq, isNull, ne, sql } from "drizzle-orm";
import { type Database, one, rows, type Tx } from "../../db/client";
import { invitations, workspaceMembers } from "../../db/schema";
import { type Actor, actorRef, ROLE_SCOPES, withinScopes } from "../shared/actor";
import { audit } from "../shared/audit";
import { resolveApiKey } from "../shared/auth";
import { Conflict, Forbidden, Unauthorized } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { insertApiKey, KeyScopes } from "./api-keys";

/** How long an invitation can be redeemed. */
export const INVITATION_TTL_MS = 7 * 24 * 3600 * 1000;

const hashSecret = (secret: string) => createHash("sha256").update(secret).digest("hex");

export const Invitation = z
  .object({
    id: z.string().uuid(),
    secret: z
      .string()
      .openapi({ description: "Shown only in this response: give it to the person, who redeems it once" }),
    expiresAt: z.date(),
  })
  .openapi("Invitation");

/** A new invitation for the member; earlier unredeemed ones stop working. */
export async function issueInvitation(tx: Tx, actor: Actor, userId: string) {
  await tx
    .update(invitations)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(invitations.workspaceId, actor.workspaceId),
        eq(invitations.userId, userId),
        isNull(invitations.redeemedAt),
        isNull(invitations.revokedAt),
      ),
    );
  const secret = `cairn_inv_${randomBytes(24).toString("base64url")}`;
  const created = one(
    await tx
      .insert(invitations)
      .values({
        workspaceId: actor.workspaceId,
        userId,
        secretHash: hashSecret(secret),
        expiresAt: sql`now() + make_interval(secs => ${INVITATION_TTL_MS / 1000}::int)`,
        createdBy: actor.userId,
      })
      .returning({ id: invitations.id, expiresAt: invitations.expiresAt }),
  );
  return { id: created.id, secret, expiresAt: created.expiresAt };
}

export const AcceptInvitationInput = z
  .strictObject({
    secret: z.string().min(1).max(200),
    name: z.string().trim().min(1).max(200).openapi({ description: "The new key's name" }),
    scopes: KeyScopes,
  })
  .openapi("AcceptInvitationInput");

interface PendingInvitation {
  id: string;
  workspace_id: string;
  user_id: string;
  redeemed_at: Date | string | null;
  revoked_at: Date | string | null;
  expires_at: Date | string;
}

/** Why an invitation cannot be redeemed now, or nothing. */
function refusal(invitation: PendingInvitation, now: Date): Error | undefined {
  if (invitation.redeemed_at !== null) return new Conflict("The invitation was already redeemed");
  if (invitation.revoked_at !== null) return new Conflict("The invitation was replaced by a newer one");
  if (new Date(invitation.expires_at) <= now) return new Unauthorized("The invitation has expired; ask for a new one");
  return undefined;
}

/**
 * Redeems an invitation for the person's own key (`proofKey`: one of the person's keys from a
 * verified membership, to verify this one too).
 */
export async function acceptInvitation(
  database: Database,
  raw: z.input<typeof AcceptInvitationInput>,
  options: { proofKey?: string; now?: Date } = {},
) {
  const input = parseInput(AcceptInvitationInput, raw);
  const now = options.now ?? new Date();
  const proof = options.proofKey ? await resolveApiKey(database, options.proofKey) : undefined;
  return database.withSettings({ "app.invitation_hash": hashSecret(input.secret) }, async (tx) => {
    // Read through the `invitation_lookup` policy (the workspace is not known yet), then claimed
    // as the workspace's tenant by one conditional UPDATE, so two redemptions cannot both pass.
    const [invitation] = await rows<PendingInvitation>(
      tx,
      sql`select id, workspace_id, user_id, redeemed_at, revoked_at, expires_at from invitations
          where secret_hash = ${hashSecret(input.secret)}`,
    );
    if (!invitation) throw new Unauthorized("The invitation is not valid");
    const refused = refusal(invitation, now);
    if (refused) throw refused;
    await tx.execute(
      sql`select set_config('app.workspace_id', ${invitation.workspace_id}, true),
                 set_config('app.user_id', ${invitation.user_id}, true)`,
    );
    const [claimed] = await tx
      .update(invitations)
      .set({ redeemedAt: sql`now()` })
      .where(and(eq(invitations.id, invitation.id), isNull(invitations.redeemedAt), isNull(invitations.revokedAt)))
      .returning({ id: invitations.id });
    if (!claimed) throw new Conflict("The invitation was already redeemed");
    const [member] = await tx
      .select({ role: workspaceMembers.role })
      .from(workspaceMembers)
      .where(
        and(eq(workspaceMembers.workspaceId, invitation.workspace_id), eq(workspaceMembers.userId, invitation.user_id)),
      );
    if (!member) throw new Conflict("The invitation's person is no longer a member of the workspace");
    if (!withinScopes(input.scopes, ROLE_SCOPES[member.role])) {
      throw new Forbidden(`A ${member.role}'s key cannot have these scopes`, {
        requested: input.scopes,
        allowed: ROLE_SCOPES[member.role],
      });
    }
    if (proof && proof.userId !== invitation.user_id) {
      throw new Forbidden("The key presented as proof is not the invited person's");
    }
    // Visible through RLS because app.user_id is the invited person (policy own_memberships).
    const [verifiedElsewhere] = await tx
      .select({ workspaceId: workspaceMembers.workspaceId })
      .from(workspaceMembers)
      .where(
        and(
          eq(workspaceMembers.userId, invitation.user_id),
          ne(workspaceMembers.workspaceId, invitation.workspace_id),
          eq(workspaceMembers.identityVerified, true),
        ),
      )
      .limit(1);
    const verified = !verifiedElsewhere || proof?.identityVerified === true;
    const key = await insertApiKey(tx, {
      workspaceId: invitation.workspace_id,
      name: input.name,
      scopes: input.scopes,
      userId: invitation.user_id,
      createdBy: invitation.user_id,
    });
    await tx.update(invitations).set({ redeemedKeyId: key.id }).where(eq(invitations.id, invitation.id));
    if (verified) {
      await tx
        .update(workspaceMembers)
        .set({ identityVerified: true })
        .where(
          and(
            eq(workspaceMembers.workspaceId, invitation.workspace_id),
            eq(workspaceMembers.userId, invitation.user_id),
          ),
        );
    }
    await audit(tx, actorRef({ workspaceId: invitation.workspace_id, userId: invitation.user_id }), [
      {
        action: "invitation.redeemed",
        entity: { type: "user", id: invitation.user_id },
        after: { invitationId: invitation.id, apiKeyId: key.id, scopes: key.scopes, identityVerified: verified },
      },
      // Like every key, in the keys' history too.
      {
        action: "api_key.created",
        entity: { type: "api_key", id: key.id },
        after: { name: key.name, scopes: key.scopes, service: false, invitationId: invitation.id },
      },
    ]);
    return { ...key, workspaceId: invitation.workspace_id, identityVerified: verified };
  });
}
