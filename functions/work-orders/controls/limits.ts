/**
 * Concurrency and rate limits (queue_limits): what the claim statement adds to enforce them,
 * and the API that sets them.
 *
 * A limit targets one concurrency key (KEY), every key that starts with a prefix, each key
 * counted on its own (KEY_PREFIX; an exact KEY limit wins, then the longest prefix), or an item
 * type, all its items together (TYPE). `maxInFlight` caps the items PROCESSING; `rate` caps the
 * claims in any window of `intervalSeconds` (a sliding window kept in queue_rate_windows).
 *
 * Enforcement is in the claim statement, in two parts:
 * - `blockedGroupsCte`: the keys and types already at a limit, from the statement's snapshot,
 *   so the candidate scan passes over their items (a saturated key cannot starve the others);
 * - `admittedCte`: the candidates go through `cairn_admit_claims` (migration 0016), which locks
 *   each limited group (advisory transaction locks, in one order) and counts again with fresh
 *   snapshots, so no number of racing claims exceeds a limit.
 */
import { z } from "@hono/zod-openapi";
import type { SQL } from "drizzle-orm";
import { and, asc, eq, sql } from "drizzle-orm";
import { one, type Tx } from "../../../db/client";
import { queueLimits } from "../../../db/schema";
import { type Actor, actorRef } from "../../shared/actor";
import { audit } from "../../shared/audit";
import { NotFound } from "../../shared/errors";
import { createSelectSchema, selection } from "../../shared/schemas";
import { parseInput } from "../../shared/validation";

export const MAX_RATE_INTERVAL_SECONDS = 24 * 3600;
const LimitTarget = z.string().min(1).max(200);

export const QueueLimitInput = z
  .strictObject({
    concurrencyKey: LimitTarget.optional().openapi({ description: "Limit one concurrency key" }),
    keyPrefix: LimitTarget.optional().openapi({
      description: "Limit each concurrency key that starts with this prefix, each key on its own",
    }),
    type: LimitTarget.optional().openapi({ description: "Limit all items of this type together" }),
    maxInFlight: z.number().int().min(1).max(100_000).nullable().optional().openapi({
      description: "At most this many items PROCESSING at once",
    }),
    rate: z
      .strictObject({
        limit: z.number().int().min(1).max(10_000),
        intervalSeconds: z.number().min(0.001).max(MAX_RATE_INTERVAL_SECONDS),
      })
      .nullable()
      .optional()
      .openapi({ description: "At most `limit` claims in any window of `intervalSeconds`" }),
  })
  .refine((input) => [input.concurrencyKey, input.keyPrefix, input.type].filter((v) => v !== undefined).length === 1, {
    message: "Give exactly one of concurrencyKey, keyPrefix and type",
  })
  .refine((input) => (input.maxInFlight ?? null) !== null || (input.rate ?? null) !== null, {
    message: "Give maxInFlight, rate or both",
  })
  .openapi("QueueLimitInput");

const LimitKind = z.enum(["KEY", "KEY_PREFIX", "TYPE"]);
const QueueLimitRow = createSelectSchema(queueLimits, { kind: LimitKind }).omit({ workspaceId: true });
const limitColumns = selection(queueLimits, QueueLimitRow);

export const QueueLimit = z
  .object({
    id: z.string().uuid(),
    kind: LimitKind,
    target: z.string(),
    maxInFlight: z.number().int().nullable(),
    rate: z.object({ limit: z.number().int(), intervalSeconds: z.number() }).nullable(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .openapi("QueueLimit");

function present(row: z.output<typeof QueueLimitRow>): z.output<typeof QueueLimit> {
  return {
    id: row.id,
    kind: row.kind,
    target: row.target,
    maxInFlight: row.maxInFlight,
    rate:
      row.rateLimit !== null && row.rateIntervalMs !== null
        ? { limit: row.rateLimit, intervalSeconds: row.rateIntervalMs / 1000 }
        : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Creates or replaces the limit on a key, prefix or type (one per target). */
export async function putQueueLimit(tx: Tx, actor: Actor, raw: z.input<typeof QueueLimitInput>) {
  const input = parseInput(QueueLimitInput, raw);
  const [kind, target] =
    input.concurrencyKey !== undefined
      ? (["KEY", input.concurrencyKey] as const)
      : input.keyPrefix !== undefined
        ? (["KEY_PREFIX", input.keyPrefix] as const)
        : (["TYPE", input.type ?? ""] as const);
  const values = {
    maxInFlight: input.maxInFlight ?? null,
    rateLimit: input.rate?.limit ?? null,
    rateIntervalMs: input.rate ? Math.max(1, Math.round(input.rate.intervalSeconds * 1000)) : null,
  };
  const row = one(
    await tx
      .insert(queueLimits)
      .values({ workspaceId: actor.workspaceId, kind, target, ...values })
      .onConflictDoUpdate({
        target: [queueLimits.workspaceId, queueLimits.kind, queueLimits.target],
        set: { ...values, updatedAt: sql`now()` },
      })
      .returning(limitColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "queue_limit.set",
    entity: { type: "queue_limit", id: row.id },
    after: { kind, target, ...values },
  });
  return present(row);
}

export async function listQueueLimits(tx: Tx, actor: Actor) {
  const list = await tx
    .select(limitColumns)
    .from(queueLimits)
    .where(eq(queueLimits.workspaceId, actor.workspaceId))
    .orderBy(asc(queueLimits.kind), asc(queueLimits.target));
  return list.map(present);
}

export async function deleteQueueLimit(tx: Tx, actor: Actor, id: string) {
  const [row] = await tx
    .delete(queueLimits)
    .where(and(eq(queueLimits.workspaceId, actor.workspaceId), eq(queueLimits.id, id)))
    .returning(limitColumns);
  if (!row) throw new NotFound("Queue limit", id);
  await audit(tx, actorRef(actor), {
    action: "queue_limit.deleted",
    entity: { type: "queue_limit", id },
    before: { kind: row.kind, target: row.target },
  });
}

/**
 * CTEs `limited` (whether the workspace has limits) and `blocked` (kind 'KEY' | 'TYPE', group_key, due_at): the groups of workspace `ws` that are
 * at a limit in this statement's snapshot — keys and types with `maxInFlight` items PROCESSING,
 * and rate windows that are full (due_at: when the oldest claim counted leaves the window).
 * Empty, after one index probe each, in a workspace without limits.
 */
export function blockedGroupsCte(ws: SQL): SQL {
  // \`limited\`: one index probe; every part below is a one-time filter on it, so a workspace
  // without limits runs none of them (nor the admission function).
  return sql`limited as materialized (
          select exists (select 1 from queue_limits l where l.workspace_id = ${ws}) as yes
        ),
        blocked as materialized (
          select 'KEY' as kind, p.concurrency_key as group_key, null::timestamptz as due_at
          from work_items p
          where (select yes from limited)
            and p.workspace_id = ${ws} and p.status = 'PROCESSING' and p.concurrency_key is not null
            and exists (select 1 from queue_limits l where l.workspace_id = ${ws} and l.kind <> 'TYPE' and l.max_in_flight is not null)
          group by p.concurrency_key
          having count(*) >= (cairn_key_limit(${ws}, p.concurrency_key)).max_in_flight
          union all
          select 'TYPE', l.target, null::timestamptz
          from queue_limits l
          where (select yes from limited)
            and l.workspace_id = ${ws} and l.kind = 'TYPE' and l.max_in_flight is not null
            and l.max_in_flight <= (select count(*) from work_items p
                                    where p.workspace_id = ${ws} and p.status = 'PROCESSING' and p.type = l.target)
          union all
          select case when l.kind = 'TYPE' then 'TYPE' else 'KEY' end, w.group_key, full_window.due_at
          from queue_rate_windows w
          join queue_limits l on l.id = w.limit_id
          cross join lateral (
            select recent[cardinality(recent) - l.rate_limit + 1] + l.rate_interval_ms * interval '1 millisecond' as due_at
            from (select array(select t from unnest(w.recent) t
                               where t > now() - l.rate_interval_ms * interval '1 millisecond' order by t) as recent) r
            where cardinality(recent) >= l.rate_limit
          ) full_window
          where (select yes from limited) and w.workspace_id = ${ws}
        )`;
}

/** Candidate condition on `work_items i`: not in a group at its limit (`blocked`). */
export const notBlocked = (): SQL =>
  sql`(i.concurrency_key is null or i.concurrency_key <> all(array(select group_key from blocked where kind = 'KEY')))
      and i.type <> all(array(select group_key from blocked where kind = 'TYPE'))`;

/**
 * CTEs `admission` and `admitted` (id, admitted_at): the candidates (CTE `candidates`, in claim order) that the
 * limits admit, decided under the groups' locks (`cairn_admit_claims`). `admitted_at` is the
 * decision's time when a limit applied (the attempts start then), else null.
 */
export const admittedCte = (ws: SQL): SQL =>
  sql`admission as materialized (
          select c.id, null::timestamptz as admitted_at, null::timestamptz as due_at
          from candidates c where not (select yes from limited)
          union all
          -- A CTE scan returns the rows in the order its LIMIT produced them: the claim order.
          select a.item_id, a.admitted_at, a.due_at
          from cairn_admit_claims(${ws}, array(select id from candidates)) a
          where (select yes from limited)
        ),
        admitted as (select id, admitted_at from admission where id is not null)`;

/**
 * When a rate-limited group at its limit can next be claimed: the earliest of the groups the
 * scan passed over and the candidates the admission held back (null if none).
 */
export const nextClaimableAt = (): SQL =>
  sql`least((select min(due_at) from blocked), (select min(due_at) from admission))`;
