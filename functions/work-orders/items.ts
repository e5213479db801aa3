/** Reading one work item with its attempt history and evals; recording eval results. */

import { z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { attempts, evalResults, workItems } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { NotFound } from "../shared/errors";
import { parseInput, StorableJsonObject } from "../shared/validation";
import { itemMemories } from "./ledger";
import { attemptColumns, evalColumns, itemColumns } from "./schemas";

export const RecordEvalInput = z
  .strictObject({
    evaluator: z.string().trim().min(1).max(200),
    score: z.number().min(0).max(1),
    passed: z.boolean(),
    details: StorableJsonObject().default({}),
  })
  .openapi("RecordEvalInput");

async function findItem(tx: Tx, actor: Actor, id: string) {
  const [item] = await tx
    .select(itemColumns)
    .from(workItems)
    .where(and(eq(workItems.workspaceId, actor.workspaceId), eq(workItems.id, id)));
  if (!item) throw new NotFound("Work item", id);
  return item;
}

/** An item with every attempt (oldest first) and its eval results. */
export async function getWorkItem(tx: Tx, actor: Actor, id: string) {
  const item = await findItem(tx, actor, id);
  // One after the other: statements on one transaction's connection run in sequence anyway.
  const history = await tx
    .select(attemptColumns)
    .from(attempts)
    .where(and(eq(attempts.workspaceId, actor.workspaceId), eq(attempts.workItemId, id)))
    .orderBy(asc(attempts.startedAt), asc(attempts.id));
  const evals = await tx
    .select(evalColumns)
    .from(evalResults)
    .where(and(eq(evalResults.workspaceId, actor.workspaceId), eq(evalResults.workItemId, id)))
    .orderBy(asc(evalResults.createdAt), asc(evalResults.id));
  return { ...item, attempts: history, evals, memories: await itemMemories(tx, actor, id) };
}

export async function recordEval(tx: Tx, actor: Actor, workItemId: string, raw: z.input<typeof RecordEvalInput>) {
  const input = parseInput(RecordEvalInput, raw);
  await findItem(tx, actor, workItemId);
  const created = one(
    await tx
      .insert(evalResults)
      .values({ workspaceId: actor.workspaceId, workItemId, ...input })
      .returning(evalColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "work_item.evaluated",
    entity: { type: "work_item", id: workItemId },
    after: { evalId: created.id, evaluator: input.evaluator, score: input.score, passed: input.passed },
  });
  return created;
}
