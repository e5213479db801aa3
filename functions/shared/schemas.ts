/**
 * Response shapes derive from the Drizzle tables (drizzle-zod, through a factory bound to the
 * `z` of @hono/zod-openapi so `.openapi()` works on them): columns, nullability and enums are
 * written once, in db/schema. A context's schemas file picks and refines them; `selection`
 * gives the columns a query must select for a schema, from the same keys.
 */
import { z } from "@hono/zod-openapi";
import { getTableColumns, type Table } from "drizzle-orm";
import { createSchemaFactory } from "drizzle-zod";

export const { createSelectSchema } = createSchemaFactory({ zodInstance: z });

/** Any JSON value (jsonb columns whose shape is the client's). */
export const Json = z.unknown().openapi({ description: "Any JSON value" });
/** A JSON object (payloads, metadata). */
export const JsonObject = z.record(z.string(), z.unknown());
/** Timestamps leave as ISO 8601 strings (JSON serialises a Date that way). */
export const Timestamp = z.date();

/** The table's columns named by the schema's keys: what a query selects to answer with that schema. */
export function selection<T extends Table, S extends z.ZodRawShape>(
  table: T,
  schema: z.ZodObject<S>,
): { [K in keyof S & keyof T["_"]["columns"]]: T["_"]["columns"][K] } {
  const columns = getTableColumns(table) as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(schema.shape).flatMap((key) => (key in columns ? [[key, columns[key]]] : [])),
  ) as {
    [K in keyof S & keyof T["_"]["columns"]]: T["_"]["columns"][K];
  };
}
