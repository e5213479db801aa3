/**
 * Reading the activity log (`GET /v1/activity`): who did what to which entity, newest first,
 * keyset-paginated, in the caller's workspace only (the query filters by workspace and RLS
 * holds it there regardless).
 *
 * Which rows a key reads: a row shows an entity's change, often with its `before`/`after`
 * (statuses, reasons, names, scopes), so it is readable with the scope that reads that entity
 * itself — work:read for orders, items, dead letters and templates; approvals:read for requests
 * and policies; memory:read for memories, events and conversations; platform:read for the
 * catalogue and members; admin for API keys (whose listing is admin-only too) and for any
 * entity type not listed here. So an approver's key sees the approval history it can already
 * read, and a memory agent's key sees no work payloads. A key with none of those scopes is
 * refused; a filter on an entity type the key cannot read is refused rather than answered empty.
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, gte, inArray, like, lt, type SQL, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { activityLog, actorType, users, workspaceMembers } from "../../db/schema";
import { type Actor, hasScope, type Scope } from "../shared/actor";
import { BadRequest, Forbidden } from "../shared/errors";
import { PageQuery } from "../shared/pagination";
import { DateTimeInput, parseInput } from "../shared/validation";
import { type ActivityEntry, activityColumns, actorUserColumns } from "./activity-schemas";

/** The scope that reads each entity type's activity (the scope that reads the entity). */
export const ACTIVITY_READ_SCOPES: Record<string, Scope> = {
  work_order: "work:read",
  work_item: "work:read",
  dead_letter: "work:read",
  workflow_template: "work:read",
  processing_job: "work:read",
  approval_request: "approvals:read",
  approval_policy: "approvals:read",
  memory: "memory:read",
  conversation: "memory:read",
  feedback: "memory:read",
  raw_event: "memory:read",
  connector: "platform:read",
  tool: "platform:read",
  capability: "platform:read",
  schema: "platform:read",
  user: "platform:read",
  workspace: "platform:read",
  api_key: "admin",
};

/** The scope that reads an entity type's activity; admin for types not listed. */
export const activityReadScope = (entityType: string): Scope => ACTIVITY_READ_SCOPES[entityType] ?? "admin";

/** The entity types whose activity the key reads, or "all" for an admin key. */
export function readableEntityTypes(actor: Pick<Actor, "scopes">): string[] | "all" {
  if (hasScope(actor, "admin")) return "all";
  return Object.keys(ACTIVITY_READ_SCOPES).filter((type) => hasScope(actor, activityReadScope(type)));
}

export const ActivityQuery = PageQuery.extend({
  entityType: z
    .string()
    .regex(/^[a-z][a-z_]{0,62}$/, "an entity type is lower-case letters and underscores, e.g. work_item")
    .optional()
    .openapi({ description: "work_order, work_item, dead_letter, approval_request, memory, api_key…" }),
  entityId: z.string().uuid().optional(),
  actorType: z.enum(actorType.enumValues).optional(),
  actorId: z.string().trim().min(1).max(200).optional().openapi({ description: "A user's id, or a job's name" }),
  action: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[a-z_.]+(\.\*)?$/, "an action is like approval.approved, or a prefix like approval.*")
    .optional()
    .openapi({ description: "Exact (`approval.approved`) or a prefix ending in `.*` (`approval.*`)" }),
  since: DateTimeInput("At or after (ISO 8601)").optional(),
  until: DateTimeInput("Before (ISO 8601)").optional(),
}).refine((query) => !query.since || !query.until || query.since < query.until, {
  message: "since must be before until",
  path: ["until"],
});
export type ActivityQuery = z.input<typeof ActivityQuery>;

/**
 * The cursor carries `at` to the microsecond (the column's precision; a JavaScript Date would
 * round it to the millisecond and skip or repeat rows of one transaction), and the id.
 */
const ActivityCursor = z.object({
  t: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
  id: z.string().uuid(),
});
const encodeCursor = (position: z.infer<typeof ActivityCursor>) =>
  Buffer.from(JSON.stringify(position)).toString("base64url");
function decodeCursor(cursor: string): z.infer<typeof ActivityCursor> {
  try {
    return parseInput(ActivityCursor, JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new BadRequest("The cursor is not valid; pass the nextCursor of a previous page");
  }
}

const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, "\\$&")}%`;
/** `at` as UTC ISO 8601 with microseconds. */
const atText = sql<string>`to_char(${activityLog.at} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
/** The user a USER row names (actor_id is text: a job's name for SYSTEM rows, so cast only what is a uuid). */
const actorUserId = sql`case when ${activityLog.actorType} = 'USER'
  and ${activityLog.actorId} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  then ${activityLog.actorId}::uuid end`;

export async function listActivity(
  tx: Tx,
  actor: Actor,
  raw: ActivityQuery,
): Promise<{ items: ActivityEntry[]; nextCursor: string | null }> {
  const query = parseInput(ActivityQuery, raw);
  const readable = readableEntityTypes(actor);
  if (readable !== "all" && readable.length === 0) {
    throw new Forbidden("Reading activity needs a read scope: work:read, approvals:read, memory:read or platform:read");
  }
  if (query.entityType && readable !== "all" && !readable.includes(query.entityType)) {
    throw new Forbidden(
      `This API key lacks the '${activityReadScope(query.entityType)}' scope that reads ${query.entityType} activity`,
    );
  }
  const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
  const conditions: Array<SQL | undefined> = [
    eq(activityLog.workspaceId, actor.workspaceId),
    readable === "all" ? undefined : inArray(activityLog.entityType, readable),
    query.entityType ? eq(activityLog.entityType, query.entityType) : undefined,
    query.entityId ? eq(activityLog.entityId, query.entityId) : undefined,
    query.actorType ? eq(activityLog.actorType, query.actorType) : undefined,
    query.actorId ? eq(activityLog.actorId, query.actorId) : undefined,
    query.action?.endsWith(".*")
      ? like(activityLog.action, likePrefix(query.action.slice(0, -1)))
      : query.action
        ? eq(activityLog.action, query.action)
        : undefined,
    query.since ? gte(activityLog.at, query.since) : undefined,
    query.until ? lt(activityLog.at, query.until) : undefined,
    cursor ? sql`(${activityLog.at}, ${activityLog.id}) < (${cursor.t}::timestamptz, ${cursor.id}::uuid)` : undefined,
  ];
  const found = await tx
    .select({ ...activityColumns, atText, actorUser: actorUserColumns })
    .from(activityLog)
    .leftJoin(users, eq(users.id, actorUserId))
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, activityLog.workspaceId), eq(workspaceMembers.userId, users.id)),
    )
    .where(and(...conditions))
    .orderBy(desc(activityLog.at), desc(activityLog.id))
    .limit(query.limit + 1);
  const rows = found.slice(0, query.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(({ atText: _at, actorUser, ...row }) => ({
      ...row,
      actorUser: actorUser?.email ? { email: actorUser.email, name: actorUser.name } : null,
    })),
    nextCursor: found.length > query.limit && last ? encodeCursor({ t: last.atText, id: last.id }) : null,
  };
}
