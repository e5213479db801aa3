/**
 * Typed errors with a closed vocabulary of codes, each mapped to its HTTP status here and
 * nowhere else (`createApp`'s error handler turns them into `{"error":{"code","message","details"}}`).
 * Domain code throws these; routes never build error bodies themselves.
 */
export const ERROR_STATUS = {
  /** The input does not have the shape the schema asks for (any entry point, see validation.ts). */
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** Well-formed but breaks a rule the schema cannot express. */
  invalid: 422,
  rate_limited: 429,
  internal: 500,
  upstream_failed: 502,
  upstream_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

export class AppError extends Error {
  readonly status: ErrorStatus;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
    this.status = ERROR_STATUS[code];
  }
}

export class BadRequest extends AppError {
  constructor(message: string, details?: unknown) {
    super("validation_failed", message, details);
  }
}
export class Unauthorized extends AppError {
  constructor(message = "A valid API key is required") {
    super("unauthorized", message);
  }
}
export class Forbidden extends AppError {
  constructor(message: string, details?: unknown) {
    super("forbidden", message, details);
  }
}
export class NotFound extends AppError {
  constructor(entity: string, id?: string) {
    super("not_found", id ? `${entity} ${id} was not found` : `${entity} was not found`);
  }
}
export class Conflict extends AppError {
  constructor(message: string, details?: unknown) {
    super("conflict", message, details);
  }
}
export class Invalid extends AppError {
  constructor(message: string, details?: unknown) {
    super("invalid", message, details);
  }
}
export class PayloadTooLarge extends AppError {
  constructor(limitBytes: number) {
    super("payload_too_large", `The request body is larger than ${limitBytes} bytes`);
  }
}
export class UpstreamFailed extends AppError {
  constructor(message: string, retryable: boolean) {
    super(retryable ? "upstream_unavailable" : "upstream_failed", message);
  }
}

/** The response body of an error. */
export function toErrorBody(error: AppError) {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

/** SQLSTATE of a driver error, also when Drizzle wrapped it. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * Database errors a client can cause, as client errors. Anything else stays a 500.
 * (Constraint names are not leaked; the detail says what kind of rule was broken.)
 */
export function fromDatabaseError(error: unknown): AppError | undefined {
  switch (sqlState(error)) {
    case "23505":
      return new Conflict("A record with the same unique key already exists");
    case "23503":
      return new Invalid("The request refers to a record that does not exist");
    case "23514":
    case "23502":
      return new Invalid("The request breaks a data rule (a value is out of range or missing)");
    case "22P02":
    case "22007":
    case "22008":
      return new BadRequest("A value has an invalid format");
    case "22P05":
    case "22021":
      return new BadRequest("Text contains a character PostgreSQL cannot store (such as U+0000)");
    case "54001":
      return new BadRequest("A value is nested too deeply");
    case "22003":
    case "22001":
      return new Invalid("A value is out of range or too long");
    case "2201B":
      return new Invalid("A regular expression is invalid");
    case "42501":
      return new Forbidden("The operation is not allowed");
    case "40001":
    case "40P01":
    case "55P03":
      return new Conflict("The record was changed concurrently; retry the request");
    default:
      return undefined;
  }
}

/** A failure as a one-line message (for summaries and stored errors; the stack goes to the log). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
