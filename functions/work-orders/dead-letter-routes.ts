/** `/v1/dead-letters`: list, read, redrive (optionally with an edited payload), discard, automatic retry. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import {
  DiscardInput,
  discardDeadLetter,
  getDeadLetter,
  ListDeadLettersQuery,
  listDeadLetters,
  RedriveInput,
  RetryPolicyInput,
  redriveDeadLetterAs,
  setDeadLetterRetry,
} from "./dead-letters";
import { DeadLetter, RedrivenDeadLetter } from "./schemas";

const read = requireScope("work:read");
const write = requireScope("work:write");
const tags = ["Dead letters"];

export const deadLetterRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/dead-letters",
      tags: tags,
      summary: "List dead letters of every source, newest first",
      middleware: [read] as const,
      request: { query: ListDeadLettersQuery },
      responses: { 200: json(pageSchema(DeadLetter), "A page of dead letters"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listDeadLetters(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/dead-letters/{id}",
      tags: tags,
      summary: "A dead letter with every attempt's error",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(DeadLetter, "The dead letter"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getDeadLetter(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/dead-letters/{id}/redrive",
      tags: tags,
      summary: "Requeue the dead-lettered item with a fresh attempt budget (optionally an edited payload)",
      middleware: [write] as const,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: RedriveInput } }, required: false },
      },
      responses: { 200: json(RedrivenDeadLetter, "Redriven"), ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      return c.json(
        await inTenant(c, (tx) => redriveDeadLetterAs(tx, c.var.actor, c.req.valid("param").id, body)),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/dead-letters/{id}",
      tags: tags,
      summary: "Mark an open dead letter for automatic retry by the reprocessing job (or stop it)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(RetryPolicyInput) },
      responses: { 200: json(DeadLetter, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => setDeadLetterRetry(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/dead-letters/{id}/discard",
      tags: tags,
      summary: "Mark the dead letter discarded, with who and why (it is kept)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(DiscardInput) },
      responses: { 200: json(DeadLetter, "Discarded"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => discardDeadLetter(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  );
