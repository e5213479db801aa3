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
 * PostgreSQL text and jsonb cannot hold U+0000, and jsonb parsing has a nesting limit (the
 * server's stack): such input is refused here with a 400, instead of failing in the database.
 */
const NUL_MESSAGE = "must not contain the NUL character (U+0000)";
export const MAX_JSON_DEPTH = 64;
export const hasNoNul = (value: string) => !value.includes("\u0000");

/** What makes a JSON value unstorable (a NUL in any string or key, or deeper nesting than MAX_JSON_DEPTH), if anything. */
export function jsonProblem(value: unknown): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { value: current, depth } = next;
    if (typeof current === "string") {
      if (!hasNoNul(current)) return NUL_MESSAGE;
    } else if (current !== null && typeof current === "object") {
      if (depth >= MAX_JSON_DEPTH) return `must not be nested deeper than ${MAX_JSON_DEPTH} levels`;
      for (const [key, inner] of Object.entries(current)) {
        if (!hasNoNul(key)) return NUL_MESSAGE;
        stack.push({ value: inner, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

export const StorableString = () => z.string().refine(hasNoNul, { message: NUL_MESSAGE });
export const StorableJson = <T extends z.ZodTypeAny>(schema: T) =>
  schema.superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
