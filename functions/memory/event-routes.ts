/** `/v1/events`: raw events in (with a key, or signed by a connector), and how they were processed. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../shared/signatures";
import {
  IngestEventsInput,
  IngestEventsResult,
  ingestEvents,
  ListEventsQuery,
  MAX_EVENTS_PER_BATCH,
  receiveConnectorEvents,
} from "./events/intake";
import { getEvent, listEvents } from "./events/reads";
import { Event, EventDetail } from "./schemas";

const read = requireScope("memory:read");
const write = requireScope("memory:write");

const signedErrors = {
  400: errorResponses[400],
  401: { ...errorResponses[401], description: "Unknown connector, or a missing, wrong or expired signature" },
  403: { ...errorResponses[403], description: "The connector is not ACTIVE" },
  413: errorResponses[413],
};

export const eventRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events",
      tags: ["Events"],
      summary: `Store a batch of raw events (up to ${MAX_EVENTS_PER_BATCH}) for processing into memory`,
      description:
        "One statement stores the batch; an event whose source and externalId are already stored is reported as a duplicate and not stored again. Events are turned into memories asynchronously (see GET /v1/events/{id}).",
      middleware: [write] as const,
      request: jsonBody(IngestEventsInput),
      responses: { 202: json(IngestEventsResult, "Stored (per event: stored or duplicate)"), ...errorResponses },
    }),
    async (c) => {
      const result = await inTenant(c, (tx) => ingestEvents(tx, c.var.actor, c.req.valid("json")));
      return c.json(result, 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events",
      tags: ["Events"],
      summary: "Events, newest first, by processing status and source",
      middleware: [read] as const,
      request: { query: ListEventsQuery },
      responses: { 200: json(pageSchema(Event), "Events"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listEvents(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}",
      tags: ["Events"],
      summary: "An event with its processing job and the memories made from it",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(EventDetail, "Event"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getEvent(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/connectors/{id}/events",
      tags: ["Events"],
      summary: "Receive a batch of events from a connector, signed with its secret (no API key)",
      description: [
        'The body is the same as POST /v1/events: `{"events": [...]}`.',
        `Authenticated by \`${SIGNATURE_HEADER}: sha256=<hex>\`, the HMAC-SHA256 under the connector's signing secret of`,
        `\`<${TIMESTAMP_HEADER}>.<raw body>\`, where \`${TIMESTAMP_HEADER}\` is unix seconds within 5 minutes of the server's clock.`,
        "An unknown connector and a bad signature are both 401 (connector ids are not revealed); nothing is stored on any error.",
      ].join(" "),
      security: [],
      request: {
        params: IdParam,
        headers: z.object({
          [SIGNATURE_HEADER.toLowerCase()]: z
            .string()
            .optional()
            .openapi({ example: "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }),
          [TIMESTAMP_HEADER.toLowerCase()]: z.string().optional().openapi({ example: "1767225600" }),
        }),
      },
      responses: { 202: json(IngestEventsResult, "Stored (per event: stored or duplicate)"), ...signedErrors },
    }),
    async (c) => {
      // The raw bytes are what was signed, so the body is read as text, never re-serialised.
      const rawBody = await c.req.text();
      const result = await receiveConnectorEvents(c.var.database, c.req.valid("param").id, {
        rawBody,
        signature: c.req.header(SIGNATURE_HEADER),
        timestamp: c.req.header(TIMESTAMP_HEADER),
      });
      return c.json({ stored: result.stored, duplicates: result.duplicates, items: result.items }, 202);
    },
  );
