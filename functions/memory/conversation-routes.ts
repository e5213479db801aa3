/** `/v1/conversations`: agent interactions, the memories they used, and their feedback. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { PageQuery, pageSchema } from "../shared/pagination";
import {
  getConversation,
  ListConversationsQuery,
  listConversations,
  listFeedback,
  RecordConversationInput,
  RecordFeedbackInput,
  recordConversation,
  recordFeedback,
} from "./conversations";
import { Conversation, ConversationDetail, Feedback, RecordedConversation } from "./schemas";

const read = requireScope("memory:read");
const write = requireScope("memory:write");

export const conversationRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/conversations",
      tags: ["Conversations"],
      summary: "Record an agent interaction and the memories it used",
      middleware: [write] as const,
      request: jsonBody(RecordConversationInput),
      responses: { 201: json(RecordedConversation, "Recorded"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => recordConversation(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/conversations",
      tags: ["Conversations"],
      summary: "Conversations, newest first, by end user and channel",
      middleware: [read] as const,
      request: { query: ListConversationsQuery },
      responses: { 200: json(pageSchema(Conversation), "Conversations"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listConversations(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/conversations/{id}",
      tags: ["Conversations"],
      summary: "A conversation with the memories it used and its feedback",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(ConversationDetail, "Conversation"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getConversation(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/conversations/{id}/feedback",
      tags: ["Conversations"],
      summary: "Rate a conversation (1..5) with optional text",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(RecordFeedbackInput) },
      responses: { 201: json(Feedback, "Recorded"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => recordFeedback(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        201,
      ),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/conversations/{id}/feedback",
      tags: ["Conversations"],
      summary: "A conversation's feedback, newest first",
      middleware: [read] as const,
      request: { params: IdParam, query: PageQuery },
      responses: { 200: json(pageSchema(Feedback), "Feedback"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => listFeedback(tx, c.var.actor, c.req.valid("param").id, c.req.valid("query"))),
        200,
      ),
  );
