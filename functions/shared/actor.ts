/**
 * Who is acting: the caller of a request as resolved from its API key (`Actor`), and the
 * reference to an actor that the activity log and lifecycle changes record (`ActorRef`).
 */
import { z } from "@hono/zod-openapi";
import type { actorType, memberRole } from "../../db/schema";

export const SCOPES = [
  "admin",
  "work:read",
  "work:write",
  "approvals:read",
  "approvals:write",
  "approvals:decide",
  "memory:read",
  "memory:write",
  "platform:read",
  "platform:write",
] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;

export type MemberRole = (typeof memberRole.enumValues)[number];

const READ: Scope[] = ["work:read", "approvals:read", "memory:read", "platform:read"];
const EVERY: Scope[] = [...SCOPES];

/**
 * What a member's role allows a key of theirs to do, whatever the key itself says. Owners and
 * admins administer; members and approvers do the work and decide approvals (a request names
 * which roles may decide it); viewers read. Managing approval policies and the catalog
 * (`approvals:write`, `platform:write`) and setting an item's own approval requirement are
 * administration.
 */
export const ROLE_SCOPES: Record<MemberRole, readonly Scope[]> = {
  OWNER: EVERY,
  ADMIN: EVERY,
  MEMBER: [...READ, "work:write", "memory:write", "approvals:decide"],
  APPROVER: [...READ, "work:write", "memory:write", "approvals:decide"],
  VIEWER: READ,
};

/** Roles by what they may grant: nobody grants a role above their own; only an OWNER grants OWNER. */
const ROLE_RANK: Record<MemberRole, number> = { OWNER: 3, ADMIN: 2, MEMBER: 1, APPROVER: 1, VIEWER: 0 };
export const outranks = (granter: MemberRole | null, role: MemberRole): boolean =>
  granter !== null && (granter === "OWNER" || (ROLE_RANK[granter] >= ROLE_RANK[role] && role !== "OWNER"));

/** The scopes named, with `admin` standing for every scope. */
const expand = (scopes: readonly Scope[]): Scope[] => (scopes.includes("admin") ? EVERY : [...scopes]);

/**
 * A key's effective scopes: the key's own, capped by what the member's current role allows — so
 * a demotion takes effect on the key's very next request. A service key (no person) keeps its
 * own (they were capped by its creator's when it was made); a person's key whose person is no
 * longer a member has none.
 */
export function effectiveScopes(
  keyScopes: readonly Scope[],
  holder: { service: boolean; role: MemberRole | null },
): Scope[] {
  if (holder.service) return [...new Set(keyScopes)];
  if (holder.role === null) return [];
  const allowed = ROLE_SCOPES[holder.role];
  return expand(keyScopes).filter((scope) => allowed.includes(scope));
}

/** Whether every scope of `wanted` is within `held` (both read with `admin` as every scope). */
export const withinScopes = (wanted: readonly Scope[], held: readonly Scope[]): boolean => {
  const have = expand(held);
  return expand(wanted).every((scope) => have.includes(scope));
};

/** The caller of a request, as resolved from its API key. */
export interface Actor {
  workspaceId: string;
  /** The person the key acts as: who created it (or redeemed the invitation that made it); null for a service key. */
  userId: string | null;
  apiKeyId: string;
  /** Effective scopes (`effectiveScopes`). */
  scopes: Scope[];
  /** The person's current role in the workspace (null for a service key or a former member). */
  role: MemberRole | null;
  /** The key's membership is the person's own verified identity (see workspace_members.identity_verified). */
  identityVerified: boolean;
}

export function hasScope(actor: Pick<Actor, "scopes">, scope: Scope): boolean {
  return actor.scopes.includes("admin") || actor.scopes.includes(scope);
}

/**
 * Who caused a change, as the activity log records it. `workspaceId` scopes the change to one
 * workspace (API requests, a tenant's job); null for maintenance work across workspaces.
 */
export interface ActorRef {
  workspaceId: string | null;
  type: (typeof actorType.enumValues)[number];
  id: string | null;
}

/**
 * Who acted in a request: the person, or — for a service key — the key; for a tenant's call
 * with neither (a job working for the workspace), the system.
 */
export const actorRef = (actor: { workspaceId: string; userId?: string | null; apiKeyId?: string }): ActorRef =>
  actor.userId
    ? { workspaceId: actor.workspaceId, type: "USER", id: actor.userId }
    : actor.apiKeyId
      ? { workspaceId: actor.workspaceId, type: "API_KEY", id: actor.apiKeyId }
      : { workspaceId: actor.workspaceId, type: "SYSTEM", id: null };

/** A job or the system acting (in one workspace, or across all when `workspaceId` is null). */
export const systemActor = (workspaceId: string | null = null, id = "system"): ActorRef => ({
  workspaceId,
  type: "SYSTEM",
  id,
});
