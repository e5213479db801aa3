/** An error answered by the Cairn API (`{"error":{"code","message","details"}}`), or a request that never got an answer. */
export class CairnError extends Error {
  override readonly name = "CairnError";
  /** HTTP status; 0 when no response arrived (network error, refused connection). */
  readonly status: number;
  /** The API's error code (`validation_failed`, `conflict`, `not_found`…); `network_error` when status is 0. */
  readonly code: string;
  readonly details: unknown;
  /** `POST /v1/work-items/{id}/complete`: the route template, so ids and queries never end up in logs. */
  readonly operation: string;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: unknown;
    operation: string;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.operation = init.operation;
  }

  /** Builds the error from a failed response and its parsed body (JSON or text). */
  static fromResponse(response: Response, body: unknown, operation: string): CairnError {
    const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    if (error && typeof error.code === "string") {
      return new CairnError({
        status: response.status,
        code: error.code,
        message: typeof error.message === "string" ? error.message : response.statusText,
        details: error.details,
        operation,
      });
    }
    // Not Cairn's error shape: a proxy or load balancer answered (an HTML 502, say).
    const text = typeof body === "string" ? body.slice(0, 200) : "";
    return new CairnError({
      status: response.status,
      code: `http_${response.status}`,
      message: text || response.statusText || `HTTP ${response.status}`,
      operation,
    });
  }
}

/**
 * Throw it from a worker handler when retrying cannot help (a payload that can never be
 * processed): the item fails without retry and goes to the dead letters at once.
 */
export class NonRetryableError extends Error {
  override readonly name: string = "NonRetryableError";
}

/** Why a handler's signal aborted: the lease was lost (another worker may now hold the item). */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/** Why a handler's signal aborted: the worker stopped and the grace period ran out. */
export class WorkerStoppedError extends Error {
  override readonly name = "WorkerStoppedError";
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
