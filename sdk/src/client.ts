/**
 * The typed client: openapi-fetch over the generated `paths`, plus what every caller needs
 * and should not write twice — the API key as a Bearer header, retries on 429/503 (and on
 * network errors where repeating is safe) with full-jitter backoff that honours Retry-After,
 * an Idempotency-Key on creates, and failures thrown as `CairnError`.
 *
 * Web-standard APIs only (fetch, Request, Web Crypto), so it runs in browsers too: the console
 * (console/) bundles it.
 */
import createFetchClient, { type Client, type FetchResponse, type MaybeOptionalInit } from "openapi-fetch";
import type { HttpMethod, MediaType, PathsWithMethod, RequiredKeysOf } from "openapi-typescript-helpers";
import { CairnError } from "./errors.js";
import { fullJitter, retryAfterMs, sleep } from "./retry.js";
import type { paths } from "./schema.js";

export interface RetryOptions {
  /** Retries after the first try (default 4); 0 turns retrying off. */
  retries?: number;
  /** Backoff base and cap in ms (default 250 and 10,000). */
  baseMs?: number;
  capMs?: number;
  /** A Retry-After longer than this (default 60 s) is not waited for: the response is returned as is. */
  maxRetryAfterMs?: number;
  /** Called before each retry (logging, metrics). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  operation: string;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  /** The status that caused it; 0 for a network error. */
  status: number;
  error?: unknown;
}

export interface ClientOptions {
  /** e.g. `http://localhost:3000` (no path, no credentials). */
  baseUrl: string;
  /** `cairn_…`; sent only as `Authorization: Bearer`. */
  apiKey: string;
  /** A fetch to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: (request: Request) => Promise<Response>;
  retry?: RetryOptions | false;
}

// As openapi-fetch's own (not exported): the options argument is optional when nothing in it is required.
type InitParam<Init> = RequiredKeysOf<Init> extends never ? [Init?] : [Init];

/** A method that resolves to the success body and throws `CairnError` otherwise. */
type Method<M extends HttpMethod> = <
  Path extends PathsWithMethod<paths, M>,
  Init extends MaybeOptionalInit<paths[Path], M>,
>(
  url: Path,
  ...init: InitParam<Init>
) => Promise<Data<paths[Path][M], Init>>;

type Data<Operation, Init> =
  Operation extends Record<string | number, unknown>
    ? NonNullable<FetchResponse<Operation, Init, MediaType>["data"]>
    : never;

export interface CairnClient {
  GET: Method<"get">;
  POST: Method<"post">;
  PUT: Method<"put">;
  PATCH: Method<"patch">;
  DELETE: Method<"delete">;
  /** The underlying openapi-fetch client (same headers and retries; returns `{ data, error, response }`, never throws for HTTP errors). */
  raw: Client<paths>;
  readonly baseUrl: string;
}

/** Operations that create something and so carry an Idempotency-Key, made up once per call and kept across its retries. */
const IDEMPOTENT_CREATES = new Set(["POST /v1/work-orders"]);
/**
 * POSTs that are safe to repeat after a network error: fenced worker calls (a repeat of a
 * call that went through is a 409 and changes nothing).
 */
const SAFE_TO_REPEAT = new Set([
  "POST /v1/work-items/{id}/heartbeat",
  "POST /v1/work-items/{id}/complete",
  "POST /v1/work-items:complete",
  "POST /v1/work-items/{id}/fail",
]);
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const RETRY_STATUSES = new Set([429, 503]);

export function createClient(options: ClientOptions): CairnClient {
  const baseUrl = checkBaseUrl(options.baseUrl, options.apiKey);
  if (!options.apiKey) throw new TypeError("createClient: apiKey is required");
  const retry = options.retry === false ? { retries: 0 } : (options.retry ?? {});
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  // The key lives in this closure and openapi-fetch's: never on an enumerable property, so
  // logging or inspecting the client cannot print it.
  const raw = createFetchClient<paths>({
    baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    fetch: retrying(baseFetch, retry),
  });
  raw.use({
    onRequest({ request, schemaPath }) {
      const operation = `${request.method} ${schemaPath}`;
      // Lower case, as the server's document spells the header; HTTP header names are case-insensitive.
      if (IDEMPOTENT_CREATES.has(operation) && !request.headers.has("idempotency-key")) {
        request.headers.set("idempotency-key", globalThis.crypto.randomUUID());
      }
      request.headers.set(OPERATION_HEADER, operation);
      return request;
    },
  });

  const call =
    <M extends HttpMethod>(method: M): Method<M> =>
    async (url, ...init) => {
      const { data, error, response } = await (
        raw.request as (
          m: string,
          u: string,
          i?: object,
        ) => Promise<{ data?: unknown; error?: unknown; response: Response }>
      )(method, url, init[0]);
      if (!response.ok) throw CairnError.fromResponse(response, error, `${method.toUpperCase()} ${url}`);
      return data as never;
    };

  return {
    GET: call("get"),
    POST: call("post"),
    PUT: call("put"),
    PATCH: call("patch"),
    DELETE: call("delete"),
    raw,
    baseUrl,
  };
}

/**
 * The route template travels from the middleware to the retrying fetch in a private header
 * (removed before sending), because openapi-fetch hands fetch a plain Request.
 */
const OPERATION_HEADER = "x-cairn-sdk-operation";

function retrying(
  baseFetch: (request: Request) => Promise<Response>,
  options: RetryOptions,
): (request: Request) => Promise<Response> {
  const retries = options.retries ?? 4;
  const backoff = { baseMs: options.baseMs ?? 250, capMs: options.capMs ?? 10_000 };
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  return async (input) => {
    const operation = input.headers.get(OPERATION_HEADER) ?? `${input.method} ${new URL(input.url).pathname}`;
    input.headers.delete(OPERATION_HEADER);
    const repeatable =
      IDEMPOTENT_METHODS.has(input.method) || input.headers.has("idempotency-key") || SAFE_TO_REPEAT.has(operation);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        // A clone per try: a body can be read once, and a retry must send it again.
        response = await baseFetch(input.clone());
      } catch (error) {
        if (input.signal.aborted) throw error;
        if (!repeatable || attempt >= retries) {
          throw new CairnError({
            status: 0,
            code: "network_error",
            message: `${operation}: ${error instanceof Error ? error.message : String(error)}`,
            operation,
            cause: error,
          });
        }
        const delayMs = fullJitter(attempt, backoff);
        options.onRetry?.({ operation, retry: attempt + 1, delayMs, status: 0, error });
        await sleep(delayMs, input.signal);
        continue;
      }
      if (!RETRY_STATUSES.has(response.status) || attempt >= retries) return response;
      const delayMs = retryAfterMs(response.headers.get("retry-after")) ?? fullJitter(attempt, backoff);
      if (delayMs > maxRetryAfterMs) return response;
      // Free the connection before waiting.
      await response.body?.cancel().catch(() => {});
      options.onRetry?.({ operation, retry: attempt + 1, delayMs, status: response.status });
      await sleep(delayMs, input.signal);
    }
  };
}

function checkBaseUrl(value: string, apiKey: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError("createClient: baseUrl must be an absolute http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError("createClient: baseUrl must be an http(s) URL");
  }
  // The key belongs in the Authorization header only: URLs end up in logs and proxies.
  if (url.username || url.password || url.search || (apiKey && value.includes(apiKey))) {
    throw new TypeError("createClient: baseUrl must not carry credentials or a query; pass the key as apiKey");
  }
  return url.toString().replace(/\/+$/, "");
}
