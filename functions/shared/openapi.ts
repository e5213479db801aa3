import { z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "./errors";

/** The body of every error response; `code` is one of the closed vocabulary in errors.ts. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z
        .enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]])
        .openapi({ description: "What went wrong, for programs (the status follows from it)" }),
      message: z.string().openapi({ description: "What went wrong, for people" }),
      details: z
        .unknown()
        .optional()
        .openapi({ description: "Specifics: the invalid fields, the conflicting record…" }),
    }),
  })
  .openapi("Error");

export const IdParam = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: "id", in: "path" }, example: "0b6b7c2e-5f44-4c1a-9d3b-1f9b0f0d2a10" }),
});

const errorResponse = (description: string) => ({
  content: { "application/json": { schema: ErrorBody } },
  description,
});

/** The error responses every authenticated route can give. */
export const errorResponses = {
  400: errorResponse("Malformed request"),
  401: errorResponse("Missing, invalid, revoked or expired API key"),
  403: errorResponse("The key lacks a scope or the caller is not allowed"),
  404: errorResponse("Not found (also for another workspace's ids)"),
  409: errorResponse("Conflict"),
  413: errorResponse("Body too large"),
  422: errorResponse("Semantically invalid"),
} as const;

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/**
 * 201 Created: the JSON of what was created and its path in `Location`. A new version of a versioned
 * resource (an approval policy, a workflow template) is created too, so an edit answers this as well.
 */
export const created = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  ...json(schema, description),
  headers: z.object({
    Location: z.string().openapi({ description: "The path of what was created (a new version's own id)" }),
  }),
});

export const jsonBody = <T extends z.ZodTypeAny>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

export { Timestamp } from "./schemas";
