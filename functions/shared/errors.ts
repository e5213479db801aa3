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
  /** The database connection was lost or refused (a restart, a failover): retry after Retry-After. */
  database_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

export class AppError extends Error {
  readonly status: ErrorStatus;
  /** Sent as `Retry-After` (seconds) when the client should simply try again. */
  readonly retryAfterSeconds?: number;
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

/**
 * The request's database connection was lost or could not be opened. Whatever the transaction
 * did was rolled back, unless the connection died while its COMMIT was in flight; either way
 * repeating the request is safe for Cairn's fenced and idempotent calls (a completion that did
 * commit answers 409 the second time).
 */
export class DatabaseUnavailable extends AppError {
  override readonly retryAfterSeconds = 1;
  constructor() {
    super("database_unavailable", "The database connection was lost; retry the request");
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

/** The unique index or constraint a unique violation (23505) broke, also when Drizzle wrapped the error. */
export function violatedUniqueConstraint(error: unknown): string | undefined {
  if (sqlState(error) !== "23505") return undefined;
  for (const e of causes(error)) {
    const constraint = (e as { constraint?: unknown }).constraint;
    if (typeof constraint === "string") return constraint;
  }
  return undefined;
}

/** The error and its causes (Drizzle wraps the driver's error, which may wrap a socket's). */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = error; e && chain.length < 4; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** SQLSTATE class 08 (connection exception) and 57P01–57P03 (admin shutdown, crash shutdown, cannot connect now). */
const CONNECTION_STATES = /^(08[0-9A-Z]{3}|57P0[123])$/;
/** Socket errors of a connection that broke or could not be made; the server may be back in a moment. */
const SOCKET_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
/**
 * What node-postgres (and Neon's copy of it) say when the connection under a query is gone:
 * closed by the server or the network mid-query, a client that already lost its connection,
 * or a connection attempt that timed out.
 */
const LOST_CONNECTION =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect)$/;

/**
 * Whether `error` means the database connection was lost or refused: one of those SQLSTATEs
 * (the server is shutting down, crashed, or not accepting connections yet), a socket error,
 * or a driver's own message for a dead connection.
 */
export function isConnectionLoss(error: unknown): boolean {
  return causes(error).some((e) => {
    const { code, message } = e as { code?: unknown; message?: unknown };
    const lostCode = typeof code === "string" && (CONNECTION_STATES.test(code) || SOCKET_ERRORS.has(code));
    return lostCode || (typeof message === "string" && LOST_CONNECTION.test(message));
  });
}

/**
 * Database errors a client can cause, as client errors, and a lost connection as a retryable
 * 503. Anything else stays a 500.
 * (Constraint names are not leaked; the detail says what kind of rule was broken.)
 */
export function fromDatabaseError(error: unknown): AppError | undefined {
  if (isConnectionLoss(error)) return new DatabaseUnavailable();
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
    case "28000":
      // cairn_authenticate (migration 0009): a key that is missing, revoked or expired, with the reason.
      return new Unauthorized(rootMessage(error));
    case "40001":
    case "40P01":
    case "55P03":
      return new Conflict("The record was changed concurrently; retry the request");
    default:
      return undefined;
  }
}

/** The message of the innermost cause (the driver's, not a wrapper's that may quote parameters). */
export function rootMessage(error: unknown): string {
  return describeError(causes(error).at(-1));
}

/** A failure as a one-line message (for summaries and stored errors; the stack goes to the log). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
