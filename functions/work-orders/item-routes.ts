/** `/v1/work-items`: the worker protocol (claim, heartbeat, complete, fail), reads and evals. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { toErrorBody } from "../shared/errors";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import {
  ClaimInput,
  CompleteBatchInput,
  CompleteInput,
  claimWork,
  completeWorkItem,
  completeWorkItems,
  FailInput,
  failWorkItem,
  HeartbeatInput,
  heartbeatWorkItem,
} from "./claims";
import { getWorkItem, RecordEvalInput, recordEval } from "./items";
import {
  BatchCompletionResult,
  ClaimedItem,
  CompletedItem,
  EvalResult,
  FailedItem,
  Heartbeat,
  WorkItemDetail,
} from "./schemas";

const read = requireScope("work:read");
const write = requireScope("work:write");
const tags = ["Work items"];

export const itemRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/claim",
      tags: tags,
      summary: "Claim up to `limit` items (priority, then age) with a lease, an attempt and a fencing token",
      middleware: [write] as const,
      request: jsonBody(ClaimInput),
      responses: {
        200: json(
          z.object({
            items: z.array(ClaimedItem),
            nextClaimableAt: z.date().nullable().openapi({
              description:
                "When fewer items than asked were claimed and a rate limit held some back: when the next is due (sleep until then)",
            }),
          }),
          "Claimed items (possibly none)",
        ),
        ...errorResponses,
      },
    }),
    // The route owns the transaction: the claim statement goes with BEGIN, the set-up and COMMIT.
    async (c) =>
      c.json(await inTenant(c, (tx) => claimWork(tx, c.var.actor, c.req.valid("json"), { commit: true })), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/work-items/{id}",
      tags: tags,
      summary: "A work item with its attempt history and evals",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(WorkItemDetail, "The work item"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getWorkItem(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/heartbeat",
      tags: tags,
      summary: "Extend the lease of the running attempt (409 if the attempt is stale)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(HeartbeatInput) },
      responses: { 200: json(Heartbeat, "Lease extended"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => heartbeatWorkItem(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/complete",
      tags: tags,
      summary: "Complete the running attempt with a result (409 if the attempt is stale)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(CompleteInput) },
      responses: { 200: json(CompletedItem, "Completed (or awaiting review)"), ...errorResponses },
    }),
    async (c) => {
      const done = await inTenant(c, (tx) =>
        completeWorkItem(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json")),
      );
      return c.json(done, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items:complete",
      tags: tags,
      summary: "Complete many running attempts in one call, each fenced on its own, with a result per item",
      description:
        "One transaction. A stale fence (or an unknown id) among good ones does not stop the others: its result says " +
        "`conflict` (with the reason a single completion's 409 gives) or `not_found`. Results are in input order.",
      middleware: [write] as const,
      request: jsonBody(CompleteBatchInput),
      responses: { 200: json(BatchCompletionResult, "A result per item"), ...errorResponses },
    }),
    async (c) => {
      const outcomes = await inTenant(c, (tx) => completeWorkItems(tx, c.var.actor, c.req.valid("json")));
      const results = outcomes.map((o) =>
        o.outcome === "completed"
          ? { id: o.id, outcome: o.outcome, item: o.item }
          : { id: o.id, outcome: o.outcome, error: toErrorBody(o.refusal).error },
      );
      return c.json({ results }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/fail",
      tags: tags,
      summary: "Fail the running attempt: retried with backoff, or dead-lettered (409 if the attempt is stale)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(FailInput) },
      responses: { 200: json(FailedItem, "Failed"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => failWorkItem(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/evals",
      tags: tags,
      summary: "Record an eval result for the item",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(RecordEvalInput) },
      responses: { 201: json(EvalResult, "Recorded"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => recordEval(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))), 201),
  );
