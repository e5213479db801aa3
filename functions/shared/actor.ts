/**
 * Who is acting: the caller of a request as resolved from its API key (`Actor`), and the
 * reference to an actor that the activity log and lifecycle changes record (`ActorRef`).
 */
import { z } from "@hono/zod-openapi";
import type { actorType } from "../../db/schema";

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

/** The caller of a request, as resolved from its API key. */
export interface Actor {
  workspaceId: string;
  userId: string;
  apiKeyId: string;
  scopes: Scope[];
  /** The key's user's role in the workspace (null if no longer a member). */
  role: string | null;
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

/** The acting person of a request (or of a tenant's call with no person: the system). */
export const actorRef = (actor: { workspaceId: string; userId?: string | null }): ActorRef =>
  actor.userId
    ? { workspaceId: actor.workspaceId, type: "USER", id: actor.userId }
    : { workspaceId: actor.workspaceId, type: "SYSTEM", id: null };

/** A job or the system acting (in one workspace, or across all when `workspaceId` is null). */
export const systemActor = (workspaceId: string | null = null, id = "system"): ActorRef => ({
  workspaceId,
  type: "SYSTEM",
  id,
});
