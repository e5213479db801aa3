/**
 * The finishing pass over the generated OpenAPI document: what every operation has in common is
 * said here once, not in each route file, so a route added anywhere gets it too.
 *
 * - `operationId`s: a route may set its own; otherwise CRUD routes follow a convention
 *   (`GET /v1/work-orders` is `listWorkOrders`, `POST` `createWorkOrder`, `GET …/{id}`
 *   `getWorkOrder`, `PATCH` `updateWorkOrder`, `DELETE` `deleteWorkOrder`, `POST …/{id}/cancel`
 *   `cancelWorkOrder`, `GET …/{id}/versions` `listApprovalPolicyVersions`) and the rest are
 *   named in OPERATION_IDS. The ids are what generated clients call their methods: keep them.
 * - nullable references as `anyOf: [{$ref}, {type: "null"}]`: the generator writes
 *   `allOf: [{$ref}, {type: [X, "null"]}]`, which no value satisfies when it is null;
 * - request schemas as clients must send them: a property with a server-side default is
 *   optional, and its default is said in its description rather than as `default`, which
 *   openapi-typescript (at its default options) reads as "always present" and makes required;
 * - the error responses the app itself can give on any route (400, 401, 413, 415, 503), with the
 *   shared error schema, beside the ones each route lists (`errorResponses` in openapi.ts);
 * - `servers`, and the tags with a description each.
 */
import { ERROR_STATUS, type ErrorCode } from "./errors";

// The document as JSON: the generator's types stop at the schema objects this pass rewrites.
type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json | undefined;
}
const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** The operations the CRUD convention does not name well. */
const OPERATION_IDS: Record<string, string> = {
  "GET /v1/activity": "listActivity",
  "POST /v1/members": "inviteMember",
  "POST /v1/members/{userId}/invitations": "reinviteMember",
  "POST /v1/invitations/accept": "acceptInvitation",
  "POST /v1/connectors/{id}/rotate-secret": "rotateConnectorSecret",
  "POST /v1/connectors/{id}/events": "receiveConnectorEvents",
  "PUT /v1/tools/{id}/capabilities/{capabilityId}": "linkToolCapability",
  "DELETE /v1/tools/{id}/capabilities/{capabilityId}": "unlinkToolCapability",
  "POST /v1/work-items/claim": "claimWorkItems",
  "POST /v1/work-items:complete": "completeWorkItems",
  "PUT /v1/queue-limits": "setQueueLimit",
  "PUT /v1/paused-types/{type}": "pauseItemType",
  "DELETE /v1/paused-types/{type}": "resumeItemType",
  "POST /v1/work-items/{id}/evals": "recordWorkItemEval",
  "POST /v1/approvals/{id}/decisions": "decideApproval",
  "POST /v1/memories:batch": "createMemories",
  "POST /v1/memories/search": "searchMemories",
  "POST /v1/memories:forget": "forgetMemorySubject",
  "POST /v1/events": "ingestEvents",
  "POST /v1/conversations/{id}/feedback": "recordConversationFeedback",
};

/** Resources whose path segment is not the name a client should see. */
const RESOURCE_NAMES: Record<string, string> = { schemas: "payload-schemas", me: "me" };

/** The tags in the order a reader meets them, each with a description. */
export const TAGS: { name: string; description: string }[] = [
  { name: "Work orders", description: "Orders of work items, created in one transaction (idempotently)" },
  {
    name: "Work items",
    description: "The worker protocol: claim with a lease and a fencing token, heartbeat, complete, fail",
  },
  { name: "Dead letters", description: "Items (and jobs) that ran out of attempts: inspect, redrive, discard" },
  { name: "Workflow templates", description: "Versioned recipes for work orders" },
  { name: "Approvals", description: "Approval requests and the people's decisions" },
  { name: "Approval policies", description: "Versioned rules that put items behind an approval" },
  { name: "Memory", description: "Memories with embeddings: store, deduplicate, search (vector, full-text, hybrid)" },
  { name: "Events", description: "Raw events, processed into memories in the background" },
  { name: "Conversations", description: "Agent interactions, the memories they used, and feedback" },
  { name: "Platform", description: "Workspaces, members, invitations, API keys, who am I, the activity log" },
  { name: "Catalog", description: "Connectors, tools, capabilities and payload schemas" },
  {
    name: "Queue controls",
    description: "Concurrency and rate limits per key or type, paused item types, schedules",
  },
  { name: "Projects", description: "Projects of a workspace, which memories and work orders may belong to" },
];

/** Relative: the API is wherever this document was fetched from (`npm start`, a deployed stage). */
export const SERVERS = [{ url: "/", description: "The server that serves this document" }];

const pascal = (kebab: string) =>
  kebab
    .split(/[-_]/)
    .filter(Boolean)
    .map((word) => word[0]?.toUpperCase() + word.slice(1))
    .join("");
const singular = (word: string) =>
  word.endsWith("ies") ? `${word.slice(0, -3)}y` : word.endsWith("s") ? word.slice(0, -1) : word;
const isParam = (segment: string) => segment.startsWith("{");

/** The conventional operationId of `method path` (see the file's comment), or undefined. */
export function conventionalOperationId(method: string, path: string): string | undefined {
  const explicit = OPERATION_IDS[`${method.toUpperCase()} ${path}`];
  if (explicit) return explicit;
  const [version, first, ...rest] = path.split("/").filter(Boolean);
  if (version !== "v1" || !first || first.includes(":")) return undefined;
  const resource = RESOURCE_NAMES[first] ?? first;
  const plural = pascal(resource);
  const one = pascal(singular(resource));
  const [param, sub, ...more] = rest;
  if (param === undefined) {
    if (method === "get") return resource.endsWith("s") ? `list${plural}` : `get${plural}`;
    if (method === "post") return `create${one}`;
    return undefined;
  }
  if (!isParam(param) || more.length > 0) return undefined;
  if (sub === undefined) {
    const verbs: Record<string, string> = { get: "get", patch: "update", put: "replace", delete: "delete" };
    return verbs[method] ? `${verbs[method]}${one}` : undefined;
  }
  if (method === "get") return `list${one}${pascal(sub)}`;
  // POST /v1/<resource>/{id}/<verb>: an action on one resource (cancel, heartbeat, redrive…).
  if (method === "post") return `${sub.replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase())}${one}`;
  return undefined;
}

/** The error responses the app gives whatever the route (its middleware, body parsing, database). */
const APP_ERRORS: { status: number; codes: ErrorCode[]; description: string; when: "always" | "keyed" | "body" }[] = [
  {
    status: 400,
    codes: ["validation_failed"],
    description:
      "Malformed request: a parameter, header or body that does not match the schema, or an unknown query parameter",
    when: "always",
  },
  { status: 401, codes: ["unauthorized"], description: "Missing, invalid, revoked or expired API key", when: "keyed" },
  { status: 413, codes: ["payload_too_large"], description: "Body too large", when: "body" },
  { status: 415, codes: ["unsupported_media_type"], description: "The body is not application/json", when: "body" },
  {
    status: 503,
    codes: ["database_unavailable", "upstream_unavailable"],
    description:
      "The database connection was lost (`database_unavailable`) or a provider is down (`upstream_unavailable`): retry after `Retry-After` seconds",
    when: "always",
  },
];

const errorRef = { $ref: "#/components/schemas/Error" };
const retryAfterHeader = {
  "Retry-After": {
    description: "Seconds to wait before retrying",
    schema: { type: "integer", minimum: 0 },
  },
};

function errorResponse(description: string, status: number): JsonObject {
  const codes = Object.entries(ERROR_STATUS)
    .filter(([, code]) => code === status)
    .map(([name]) => `\`${name}\``);
  return {
    description: `${description}. \`error.code\`: ${codes.join(", ")}`,
    ...(status === 503 ? { headers: retryAfterHeader } : {}),
    content: { "application/json": { schema: errorRef } },
  };
}

/** Every schema object in `value` (depth first), rewritten by `rewrite` bottom-up. */
function mapSchemas(value: Json | undefined, rewrite: (schema: JsonObject) => JsonObject): Json | undefined {
  if (Array.isArray(value)) return value.map((item) => mapSchemas(item, rewrite) as Json);
  if (!isObject(value)) return value;
  const mapped: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) mapped[key] = mapSchemas(inner, rewrite);
  return rewrite(mapped);
}

const isNullSchema = (schema: Json | undefined) =>
  isObject(schema) &&
  (schema.type === "null" || (Array.isArray(schema.type) && schema.type.includes("null")) || schema.nullable === true);

/** `allOf: [{$ref}, {type: [X, "null"], …}]` -> `anyOf: [{$ref}, {type: "null"}]` (keeping the rest). */
function nullableReference(schema: JsonObject): JsonObject {
  const parts = schema.allOf;
  if (!Array.isArray(parts) || !parts.some(isNullSchema)) return schema;
  const { allOf: _, ...rest } = schema;
  const kept = parts.filter((part) => !isNullSchema(part));
  const annotations: JsonObject = {};
  for (const part of parts.filter(isNullSchema) as JsonObject[]) {
    const { type: _type, nullable: _nullable, ...others } = part;
    Object.assign(annotations, others);
  }
  const value = kept.length === 1 ? kept[0] : { allOf: kept };
  return { ...rest, ...annotations, anyOf: [value as Json, { type: "null" }] };
}

/** Component names referenced from `value`, transitively through `schemas`. */
function referencedComponents(value: Json | undefined, schemas: JsonObject, into = new Set<string>()): Set<string> {
  const visit = (node: Json | undefined) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (isObject(node)) {
      const ref = node.$ref;
      if (typeof ref === "string" && ref.startsWith("#/components/schemas/")) {
        const name = ref.slice("#/components/schemas/".length);
        if (!into.has(name)) {
          into.add(name);
          visit(schemas[name]);
        }
      }
      for (const inner of Object.values(node)) visit(inner);
    }
  };
  visit(value);
  return into;
}

/** A request schema's property defaults, moved into their descriptions (see the file's comment). */
function defaultsAsDescriptions(schema: JsonObject): JsonObject {
  if (!isObject(schema.properties)) return schema;
  const properties: JsonObject = {};
  for (const [name, property] of Object.entries(schema.properties)) {
    if (isObject(property) && property.default !== undefined) {
      const { default: fallback, ...rest } = property;
      const said = `Defaults to \`${JSON.stringify(fallback)}\`.`;
      properties[name] = { ...rest, description: rest.description ? `${rest.description}. ${said}` : said };
    } else {
      properties[name] = property;
    }
  }
  return { ...schema, properties };
}

function finishOperation(path: string, method: string, operation: JsonObject) {
  operation.operationId ??= conventionalOperationId(method, path);
  const responses = isObject(operation.responses) ? operation.responses : {};
  const keyed = !(Array.isArray(operation.security) && operation.security.length === 0);
  const body = operation.requestBody !== undefined;
  for (const error of APP_ERRORS) {
    const applies = error.when === "always" || (error.when === "keyed" ? keyed : body);
    if (applies) responses[String(error.status)] ??= errorResponse(error.description, error.status);
  }
  // Describe every error response with the codes it may carry (the route's own wording first).
  for (const [status, response] of Object.entries(responses)) {
    const code = Number(status);
    if (code >= 400 && isObject(response) && typeof response.description === "string") {
      if (!response.description.includes("`error.code`")) {
        responses[status] = errorResponse(response.description, code);
      }
    }
  }
  // Status codes in order, so the document reads (and diffs) predictably.
  operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** The generated document, finished (see the file's comment). Pure: returns a new object. */
export function finishDocument<T extends object>(generated: T): T {
  const document = mapSchemas(JSON.parse(JSON.stringify(generated)) as Json, nullableReference) as JsonObject;
  const paths = isObject(document.paths) ? document.paths : {};
  const components = isObject(document.components) ? document.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};

  const requestSide = new Set<string>();
  const responseSide = new Set<string>();
  const usedTags = new Set<string>();
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isObject(operation)) continue;
      finishOperation(path, method, operation);
      if (isObject(operation.requestBody)) {
        const content = operation.requestBody.content;
        if (isObject(content)) {
          for (const media of Object.values(content)) {
            if (isObject(media) && isObject(media.schema))
              media.schema = mapSchemas(media.schema, defaultsAsDescriptions);
          }
        }
      }
      referencedComponents(operation.requestBody, schemas, requestSide);
      referencedComponents(operation.parameters, schemas, requestSide);
      referencedComponents(operation.responses, schemas, responseSide);
      if (Array.isArray(operation.tags)) for (const tag of operation.tags) usedTags.add(String(tag));
    }
  }
  for (const name of requestSide) {
    const schema = schemas[name];
    // A shape that is also a response keeps its defaults: there the server always sends the field.
    if (isObject(schema) && !responseSide.has(name)) schemas[name] = mapSchemas(schema, defaultsAsDescriptions);
  }

  const known = TAGS.filter((tag) => usedTags.has(tag.name));
  const others = [...usedTags].filter((name) => !TAGS.some((tag) => tag.name === name)).map((name) => ({ name }));
  const { openapi, info, ...rest } = document;
  return { openapi, info, servers: SERVERS, tags: [...known, ...others], ...rest } as unknown as T;
}
