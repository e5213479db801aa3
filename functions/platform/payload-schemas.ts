import { z } from "@hono/zod-openapi";
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { and, desc, eq, inArray, ne, sql } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { payloadSchemas } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { Invalid } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { compileUserPattern } from "../shared/user-regex";
import { parseInput } from "../shared/validation";
import { found, ownRow } from "./catalog-records";
import { JsonSchemaObject, payloadSchemaColumns } from "./schemas";

/**
 * JSON Schemas (draft 2020-12) that work-item payloads of one type must match. A change is a
 * new version; creating one deactivates the older ones, so a type has at most one active schema.
 */

export const CreatePayloadSchemaInput = z
  .strictObject({
    itemType: z.string().trim().min(1).max(200),
    jsonSchema: JsonSchemaObject,
    description: z.string().trim().max(2000).optional(),
  })
  .openapi("CreatePayloadSchemaInput", {
    description:
      "`pattern` and `patternProperties` are matched in linear time by an RE2 engine: JavaScript syntax of at most 500 characters, no backreferences, lookahead or lookbehind (a 422 when the schema is saved); `\\s` is ASCII whitespace, `.` excludes only a newline, `\\p{…}` takes short names (`\\p{L}`, `\\p{Greek}`).",
  });

/** `?flag=true|false` in a query string; booleans pass through, so parsing twice is harmless. */
export const QueryFlag = z.preprocess(
  (value) => (value === "true" ? true : value === "false" ? false : value),
  z.boolean(),
);

export const ListPayloadSchemasQuery = PageQuery.extend({
  itemType: z.string().trim().min(1).max(200).optional(),
  includeInactive: QueryFlag.default(false).openapi({ description: "Also list versions that are no longer active" }),
});

// ---- compiling ----

/**
 * `pattern` and `patternProperties` run on the linear-time engine (functions/shared/user-regex.ts):
 * ajv calls this for each pattern when it compiles a schema, so a pattern that engine refuses
 * (backreferences, lookaround, too long) fails the compile with the reason (a 422 at save time).
 * `code` only names it in standalone code, which Cairn does not generate.
 */
const userRegExp = Object.assign((pattern: string) => compileUserPattern(pattern), { code: "compileUserPattern" });

const ajv = new Ajv2020({
  code: { regExp: userRegExp },
  allErrors: true,
  // Strict about the schema itself (unknown keywords and formats are mistakes worth a 422),
  // lenient about style choices that are valid JSON Schema.
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  // Compiled schemas are not registered by $id: they belong to different workspaces.
  addUsedSchema: false,
});
addFormats(ajv);
ajv.addKeyword({ keyword: "example" }); // an OpenAPI-style annotation, common in hand-written schemas

/**
 * Compiles a client's JSON Schema, or throws 422 with ajv's message. The shared ajv instance
 * is left as it was: ajv records nested `$id`s in `refs`, and one workspace's ids must neither
 * accumulate nor resolve for another workspace's schema.
 */
export function compileJsonSchema(schema: Record<string, unknown>, field = "jsonSchema"): ValidateFunction {
  const refs = { ...ajv.refs };
  const schemas = { ...ajv.schemas };
  try {
    return ajv.compile(schema);
  } catch (error) {
    throw new Invalid(`${field} is not a valid JSON Schema (draft 2020-12): ${(error as Error).message}`);
  } finally {
    ajv.removeSchema(schema);
    for (const key of Object.keys(ajv.refs)) if (!(key in refs)) delete ajv.refs[key];
    Object.assign(ajv.refs, refs);
    Object.assign(ajv.schemas, schemas);
  }
}

/** Compiled validators by schema id (a version's schema never changes); oldest evicted first. */
const validators = new Map<string, ValidateFunction>();
const MAX_CACHED_VALIDATORS = 500;

function validatorFor(schema: { id: string; itemType: string; jsonSchema: Record<string, unknown> }): ValidateFunction {
  let validate = validators.get(schema.id);
  if (validate) {
    validators.delete(schema.id); // re-insert: the Map's order is then least recently used first
  } else {
    validate = compileJsonSchema(schema.jsonSchema, `The stored schema for ${schema.itemType}`);
    const oldest = validators.keys().next();
    if (validators.size >= MAX_CACHED_VALIDATORS && !oldest.done) validators.delete(oldest.value);
  }
  validators.set(schema.id, validate);
  return validate;
}

// ---- validating payloads ----

const MAX_REPORTED_ITEMS = 100;
const MAX_ERRORS_PER_ITEM = 20;

const escapePointer = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** JSON Pointer of the value at fault: for a missing or extra property, the property itself rather than its parent. */
function failingPath(error: ErrorObject): string {
  const params = error.params as {
    missingProperty?: string;
    additionalProperty?: string;
    unevaluatedProperty?: string;
  };
  const child = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty;
  return child === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(child)}`;
}

export interface PayloadFailure {
  item: number;
  type: string;
  schemaVersion: number;
  errors: Array<{ path: string; message: string }>;
}

/** The active schema of each of the items' types (undefined when there are no items: nothing to ask). */
export function activeSchemasQuery(tx: Tx, workspaceId: string, items: Array<{ type: string }>) {
  const types = [...new Set(items.map((item) => item.type))];
  if (types.length === 0) return undefined;
  return tx
    .selectDistinctOn([payloadSchemas.itemType], {
      id: payloadSchemas.id,
      itemType: payloadSchemas.itemType,
      version: payloadSchemas.version,
      jsonSchema: payloadSchemas.jsonSchema,
    })
    .from(payloadSchemas)
    .where(
      and(
        eq(payloadSchemas.workspaceId, workspaceId),
        eq(payloadSchemas.isActive, true),
        inArray(payloadSchemas.itemType, types),
      ),
    )
    .orderBy(payloadSchemas.itemType, desc(payloadSchemas.version));
}

/** A schema as `activeSchemasQuery` reads it. */
export interface ActiveSchema {
  id: string;
  itemType: string;
  version: number;
  jsonSchema: Record<string, unknown>;
}

/**
 * Checks each item's payload against the active schema of its type (`active`, from
 * `activeSchemasQuery`); types without an active schema pass. Throws 422 naming every failing
 * item and path.
 */
export function checkItemPayloads(items: Array<{ type: string; payload: unknown }>, active: ActiveSchema[]): void {
  if (active.length === 0) return;
  const byType = new Map(active.map((schema) => [schema.itemType, schema]));

  const failures: PayloadFailure[] = [];
  items.forEach((item, index) => {
    const schema = byType.get(item.type);
    if (!schema) return;
    const validate = validatorFor(schema);
    if (validate(item.payload)) return;
    failures.push({
      item: index,
      type: item.type,
      schemaVersion: schema.version,
      errors: (validate.errors ?? [])
        .slice(0, MAX_ERRORS_PER_ITEM)
        .map((error) => ({ path: failingPath(error), message: error.message ?? error.keyword })),
    });
  });
  if (failures.length === 0) return;
  const failingTypes = [...new Set(failures.map((failure) => failure.type))];
  throw new Invalid(
    `Payload does not match the schema for ${failingTypes.join(", ")}`,
    failures.slice(0, MAX_REPORTED_ITEMS),
  );
}

/** `activeSchemasQuery` then `checkItemPayloads`: one query for all types. */
export async function validateItemPayloads(
  tx: Tx,
  workspaceId: string,
  items: Array<{ type: string; payload: unknown }>,
): Promise<void> {
  const query = activeSchemasQuery(tx, workspaceId, items);
  if (query) checkItemPayloads(items, await query);
}

// ---- CRUD ----

export async function createPayloadSchema(tx: Tx, actor: Actor, raw: z.input<typeof CreatePayloadSchemaInput>) {
  const input = parseInput(CreatePayloadSchemaInput, raw);
  compileJsonSchema(input.jsonSchema);
  // Creators of the same item type take turns (a transaction-scoped lock), so max+1 is never
  // taken twice; the unique (workspace, item type, version) index stays the backstop (409).
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`schemas:${actor.workspaceId}:${input.itemType}`}, 0))`,
  );
  const sameType = and(eq(payloadSchemas.workspaceId, actor.workspaceId), eq(payloadSchemas.itemType, input.itemType));
  const created = one(
    await tx
      .insert(payloadSchemas)
      .values({
        workspaceId: actor.workspaceId,
        itemType: input.itemType,
        description: input.description ?? null,
        jsonSchema: input.jsonSchema,
        version: sql`(select coalesce(max(${payloadSchemas.version}), 0) + 1 from ${payloadSchemas} where ${sameType})`,
      })
      .returning(payloadSchemaColumns),
  );
  await tx
    .update(payloadSchemas)
    .set({ isActive: false })
    .where(and(sameType, eq(payloadSchemas.isActive, true), ne(payloadSchemas.id, created.id)));
  await audit(tx, actorRef(actor), {
    action: "schema.created",
    entity: { type: "schema", id: created.id },
    after: { itemType: created.itemType, version: created.version },
  });
  return created;
}

export async function listPayloadSchemas(tx: Tx, actor: Actor, raw: z.input<typeof ListPayloadSchemasQuery>) {
  const query = parseInput(ListPayloadSchemasQuery, raw);
  const list = await tx
    .select(payloadSchemaColumns)
    .from(payloadSchemas)
    .where(
      and(
        eq(payloadSchemas.workspaceId, actor.workspaceId),
        query.itemType ? eq(payloadSchemas.itemType, query.itemType) : undefined,
        query.includeInactive ? undefined : eq(payloadSchemas.isActive, true),
        after(payloadSchemas.createdAt, payloadSchemas.id, query.cursor),
      ),
    )
    .orderBy(desc(payloadSchemas.createdAt), desc(payloadSchemas.id))
    .limit(query.limit + 1);
  return page(list, query.limit);
}

export async function getPayloadSchema(tx: Tx, actor: Actor, id: string) {
  const [schema] = await tx
    .select(payloadSchemaColumns)
    .from(payloadSchemas)
    .where(ownRow(payloadSchemas, actor, id));
  return found(schema, "Schema", id);
}

/** Items of the type are no longer validated against this version (nor any other, unless a new one is created). */
export async function deactivatePayloadSchema(tx: Tx, actor: Actor, id: string) {
  const existing = await getPayloadSchema(tx, actor, id);
  if (!existing.isActive) return existing;
  const deactivated = one(
    await tx
      .update(payloadSchemas)
      .set({ isActive: false })
      .where(ownRow(payloadSchemas, actor, id))
      .returning(payloadSchemaColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "schema.deactivated",
    entity: { type: "schema", id },
    after: { itemType: existing.itemType, version: existing.version },
  });
  return deactivated;
}
