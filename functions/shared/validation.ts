/**
 * Input validation, the same at every entry point: a route's schema check, a domain function
 * called from a job, a test or the MCP server all reject bad input with one error
 * (`validation_failed`, 400) listing each problem's path and message.
 */
import type { z } from "@hono/zod-openapi";
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
