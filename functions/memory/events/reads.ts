/** Reading events: listings and one event with its processing job and the memories made from it. */
import type { z } from "@hono/zod-openapi";
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import { rows, type Tx } from "../../../db/client";
import { processingJobs, rawEvents } from "../../../db/schema";
import { NotFound } from "../../shared/errors";
import { after, page } from "../../shared/pagination";
import { parseInput } from "../../shared/validation";
import { eventColumns, eventJobColumns } from "../schemas";
import { ListEventsQuery } from "./intake";

/** Newest first, optionally by processing status and source; keyset-paginated. */
export async function listEvents(tx: Tx, actor: { workspaceId: string }, raw: z.input<typeof ListEventsQuery>) {
  const query = parseInput(ListEventsQuery, raw);
  const conditions: Array<SQL | undefined> = [
    eq(rawEvents.workspaceId, actor.workspaceId),
    query.status ? eq(rawEvents.processingStatus, query.status) : undefined,
    query.source ? eq(rawEvents.source, query.source) : undefined,
    after(rawEvents.createdAt, rawEvents.id, query.cursor),
  ];
  const found = await tx
    .select(eventColumns)
    .from(rawEvents)
    .where(and(...conditions))
    .orderBy(desc(rawEvents.createdAt), desc(rawEvents.id))
    .limit(query.limit + 1);
  return page(found, query.limit);
}

/** One event with its processing job (status, attempts, last error) and the memories made from it. */
export async function getEvent(tx: Tx, actor: { workspaceId: string }, id: string) {
  const [event] = await tx
    .select(eventColumns)
    .from(rawEvents)
    .where(and(eq(rawEvents.workspaceId, actor.workspaceId), eq(rawEvents.id, id)));
  if (!event) throw new NotFound("Event", id);
  const [job] = await tx
    .select(eventJobColumns)
    .from(processingJobs)
    .where(and(eq(processingJobs.workspaceId, actor.workspaceId), eq(processingJobs.eventId, id)))
    .orderBy(desc(processingJobs.createdAt))
    .limit(1);
  const memoryIds = await rows<{ id: string }>(
    tx,
    sql`select id from memories where workspace_id = ${actor.workspaceId}::uuid and source_event_id = ${id}::uuid
        order by chunk_index nulls last, id`,
  );
  return { ...event, job: job ?? null, memoryIds: memoryIds.map((row) => row.id) };
}
