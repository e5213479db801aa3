/**
 * Input validation, the same at every entry point: a route's schema check, a domain function
 * called from a job, a test or the MCP server all reject bad input with one error
 * (`validation_failed`, 400) listing each problem's path and message.
 */
import { z } from "@hono/zod-openapi";
import { BadRequest } from "./errors";

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Zod issues as the API reports them: a dotted path (with an optional prefix) and a message. */
export function validationIssues(error: z.ZodError, pathPrefix = ""): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: [pathPrefix, ...issue.path.map(String)].filter(Boolean).join("."),
    message: issue.message,
  }));
}

/** Parses with the schema; a failure is a 400 `validation_failed` with the issues as details. */
export function parseInput<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
  options: { pathPrefix?: string; message?: string } = {},
): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new BadRequest(options.message ?? "The input is not valid", validationIssues(parsed.error, options.pathPrefix));
}

/**
 * The storable-JSON rule, for every JSON value the API takes (payloads, results, metadata,
 * configs, schemas, details, condition values): PostgreSQL text and jsonb cannot hold U+0000;
 * deep nesting overflows the stack of anything recursive on the way to the database
 * (JSON.stringify, the driver, jsonb's own parser); and a value is at most MAX_JSON_SIZE as JSON
 * text. Such input is refused here with a 400 naming the field, instead of failing later (a 500).
 * Wrap each JSON-valued field of an input schema in `StorableJson` where the schema is defined,
 * so a route and the domain function behind it (MCP, jobs) refuse it alike.
 */
const NUL_MESSAGE = "must not contain the NUL character (U+0000)";
export const MAX_JSON_DEPTH = 64;
/** 1 MiB: the API's ordinary request-body limit (bulk bodies carry several such values). */
export const MAX_JSON_SIZE = 1024 * 1024;
export const hasNoNul = (value: string) => !value.includes("\u0000");

/**
 * What makes a JSON value unstorable (a NUL in any string or key, nesting deeper than
 * MAX_JSON_DEPTH, more than MAX_JSON_SIZE characters as JSON text), if anything. Iterative:
 * it must not overflow the stack on the very input it is there to refuse.
 */
export function jsonProblem(value: unknown): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let size = 0; // the JSON text's length, give or take escapes
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { value: current, depth } = next;
    if (typeof current === "string") {
      if (!hasNoNul(current)) return NUL_MESSAGE;
      size += current.length + 2;
    } else if (current !== null && typeof current === "object") {
      if (depth >= MAX_JSON_DEPTH) return `must not be nested deeper than ${MAX_JSON_DEPTH} levels`;
      const entries = Object.entries(current);
      size += 1 + Math.max(entries.length, 1);
      for (const [key, inner] of entries) {
        if (!hasNoNul(key)) return NUL_MESSAGE;
        if (!Array.isArray(current)) size += key.length + 3;
        stack.push({ value: inner, depth: depth + 1 });
      }
    } else {
      size += String(current).length;
    }
    if (size > MAX_JSON_SIZE) return `must not be larger than ${MAX_JSON_SIZE} characters as JSON`;
  }
  return undefined;
}

export const StorableString = () => z.string().refine(hasNoNul, { message: NUL_MESSAGE });
/** `schema` (a JSON-valued field) under the storable-JSON rule. */
export const StorableJson = <T extends z.ZodTypeAny>(schema: T) =>
  schema.superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
/** A JSON object (payloads, metadata, configs) under the storable-JSON rule. */
export const StorableJsonObject = () => StorableJson(z.record(z.string(), z.unknown()));

const ISO_DATE_TIME = z.iso.datetime({ offset: true });
export const DATE_TIME_MESSAGE = "expected an ISO 8601 date-time with a time zone, e.g. 2026-01-31T09:00:00Z";

/**
 * A date-time a client sends (query strings and JSON bodies alike): an ISO 8601 date-time with a
 * time zone (`Z` or `±hh:mm`), the format every timestamp the API returns has. Anything else —
 * "yesterday", a bare date, epoch numbers — is a 400 saying so, never a guess. Domain callers may
 * pass a Date.
 */
export const DateTimeInput = (description?: string) =>
  z
    .preprocess(
      (value) => (typeof value === "string" && ISO_DATE_TIME.safeParse(value).success ? new Date(value) : value),
      z.date({ error: DATE_TIME_MESSAGE }),
    )
    .openapi({ type: "string", format: "date-time", ...(description ? { description } : {}) });
