/**
 * Embedding providers behind one interface.
 *
 * - `LexicalHashEmbeddingProvider` ("lexical"): offline, deterministic feature hashing of
 *   word unigrams, word bigrams and character 3-grams. It captures lexical overlap only — not
 *   meaning — and is the embedded default and the provider used in tests. No network, no model.
 * - `OpenAICompatibleEmbeddingProvider` ("openai"): a client for any server that
 *   speaks `POST {baseUrl}/embeddings` (OpenAI, Azure OpenAI, Ollama, vLLM, …), with batching,
 *   retry with exponential backoff and full jitter on 429 / 5xx / network errors / timeouts,
 *   and a per-request timeout.
 *
 * Which provider is active is configuration (`embeddingProviderFromEnv`, CAIRN_EMBEDDING_PROVIDER),
 * and `describe()` reports it for /health under the same name, without ever including the API key.
 */
import { z } from "zod";

export const SUPPORTED_DIMENSIONS = [768, 1536] as const;
export type SupportedDimensions = (typeof SUPPORTED_DIMENSIONS)[number];

/** The providers, named as CAIRN_EMBEDDING_PROVIDER selects them and as /health reports them. */
export const EMBEDDING_PROVIDERS = ["lexical", "openai"] as const;
export type EmbeddingProviderName = (typeof EMBEDDING_PROVIDERS)[number];

export interface EmbeddingProviderDescription {
  provider: string;
  model: string;
  dimensions: number;
  baseUrl?: string;
}

export interface EmbeddingProvider {
  /** The CAIRN_EMBEDDING_PROVIDER value that selects it (EMBEDDING_PROVIDERS). */
  readonly name: string;
  /** Stored on each memory as embedding_model. */
  readonly model: string;
  /** One of SUPPORTED_DIMENSIONS. */
  readonly dimensions: number;
  /** One vector per input, same order. */
  embed(texts: string[]): Promise<number[][]>;
  /** For /health; never contains the API key. */
  describe(): EmbeddingProviderDescription;
}

/** Thrown by providers; `retryable` tells the HTTP layer whether to answer 503 (true) or 502. */
export class EmbeddingProviderError extends Error {
  readonly status?: number;
  readonly retryable: boolean;
  constructor(message: string, options: { status?: number; retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EmbeddingProviderError";
    if (options.status !== undefined) this.status = options.status;
    this.retryable = options.retryable;
  }
}

function assertSupportedDimensions(dimensions: number): asserts dimensions is SupportedDimensions {
  if (!(SUPPORTED_DIMENSIONS as readonly number[]).includes(dimensions)) {
    throw new RangeError(
      `Embedding dimensions must be one of ${SUPPORTED_DIMENSIONS.join(", ")} (the database columns support only these); got ${dimensions}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Lexical provider
// ---------------------------------------------------------------------------------------------

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over UTF-16 code units, with a seed mixed into the offset basis. */
function fnv1a(text: string, seed: number): number {
  let hash = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  // final avalanche (murmur3 fmix32) so low bits are well mixed for modulo bucketing
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const WORD_PATTERN = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

/** Lowercased (NFKC) word tokens. */
export function lexicalTokens(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().match(WORD_PATTERN) ?? [];
}

/** Relative weights of the three feature families. */
const WEIGHT_UNIGRAM = 1.0;
const WEIGHT_BIGRAM = 0.7;
const WEIGHT_TRIGRAM = 0.5;
const LEXICAL_MODEL = "lexical-hash-v1";

export interface LexicalHashOptions {
  dimensions?: number;
}

/**
 * Feature hashing ("hashing trick") of lowercased word unigrams ("w:"), word bigrams ("b:") and
 * character 3-grams within words with boundary markers ("c:" over "<word>"). Each feature goes
 * to bucket `h1 % dimensions` with sign from a second hash, so collisions cancel in expectation.
 * Counts are damped with sublinear tf (1 + ln tf), weighted per family, and the vector is
 * L2-normalised so cosine similarity equals the dot product.
 *
 * Text with no word characters (empty, whitespace, punctuation only) gets the fixed unit vector
 * e0 (1 in bucket 0): a zero vector would make cosine distance undefined (NaN in pgvector),
 * whereas e0 keeps every distance finite and such texts simply rank as dissimilar to real text.
 */
export class LexicalHashEmbeddingProvider implements EmbeddingProvider {
  readonly name: EmbeddingProviderName = "lexical";
  readonly model = LEXICAL_MODEL;
  readonly dimensions: number;

  constructor(options: LexicalHashOptions = {}) {
    const dimensions = options.dimensions ?? 768;
    assertSupportedDimensions(dimensions);
    this.dimensions = dimensions;
  }

  async embed(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.embedOne(text));
  }

  /** Synchronous form, for callers that want no promise. */
  embedOne(text: string): number[] {
    const dims = this.dimensions;
    const counts = new Map<string, number>();
    const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1);

    const tokens = lexicalTokens(text);
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] ?? "";
      add(`w:${token}`);
      const next = tokens[i + 1];
      if (next !== undefined) add(`b:${token} ${next}`);
      const marked = `<${token}>`;
      for (let j = 0; j + 3 <= marked.length; j++) add(`c:${marked.slice(j, j + 3)}`);
    }

    const vector = new Array<number>(dims).fill(0);
    if (counts.size === 0) {
      vector[0] = 1;
      return vector;
    }
    for (const [feature, tf] of counts) {
      const family = feature.charCodeAt(0);
      const weight = family === 119 /* w */ ? WEIGHT_UNIGRAM : family === 98 /* b */ ? WEIGHT_BIGRAM : WEIGHT_TRIGRAM;
      const bucket = fnv1a(feature, 0) % dims;
      const sign = (fnv1a(feature, 0x9e3779b9) & 1) === 0 ? 1 : -1;
      vector[bucket] = (vector[bucket] ?? 0) + sign * weight * (1 + Math.log(tf));
    }
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    if (norm === 0) {
      // every feature cancelled out through signed collisions; astronomically unlikely
      vector.fill(0);
      vector[0] = 1;
      return vector;
    }
    for (let i = 0; i < dims; i++) vector[i] = (vector[i] ?? 0) / norm;
    return vector;
  }

  describe(): EmbeddingProviderDescription {
    return { provider: this.name, model: this.model, dimensions: this.dimensions };
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible provider
// ---------------------------------------------------------------------------------------------

export interface OpenAICompatibleOptions {
  /** e.g. "https://api.openai.com/v1" or "http://localhost:11434/v1" */
  baseUrl: string;
  model: string;
  /** Vector length expected back (and stored). */
  dimensions: number;
  /** Send `dimensions` in the request body; only when configured explicitly, since some servers reject it. */
  sendDimensions?: boolean;
  apiKey?: string;
  /** Inputs per request (default 96). */
  batchSize?: number;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** Base backoff in ms (default 250). */
  backoffBaseMs?: number;
  /** Maximum single backoff in ms, also caps Retry-After (default 8000). */
  backoffCapMs?: number;
  /** Per-request timeout in ms (default 15000). */
  timeoutMs?: number;
  /** Extra headers (e.g. Azure's `api-key`). */
  headers?: Record<string, string>;
  /** Injectable for tests; defaults to global fetch. */
  fetch?: typeof fetch;
  /** Injectable for tests; defaults to setTimeout-based sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable for tests; defaults to Math.random. */
  random?: () => number;
}

const embeddingsResponseSchema = z.object({
  data: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      embedding: z.array(z.number()),
    }),
  ),
});

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Parses Retry-After as delta-seconds or an HTTP date; returns ms or undefined. */
function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

async function errorMessageFrom(response: Response): Promise<string> {
  let body = "";
  try {
    body = await response.text();
  } catch {
    // body unreadable; fall back to status text
  }
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
    if (parsed.error && typeof parsed.error.message === "string") return parsed.error.message;
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON
  }
  const text = body.trim().slice(0, 500);
  return text || response.statusText || "no message";
}

export class OpenAICompatibleEmbeddingProvider implements EmbeddingProvider {
  readonly name: EmbeddingProviderName = "openai";
  readonly model: string;
  readonly dimensions: number;
  readonly baseUrl: string;
  private readonly sendDimensions: boolean;
  private readonly apiKey: string | undefined;
  private readonly batchSize: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: OpenAICompatibleOptions) {
    assertSupportedDimensions(options.dimensions);
    if (!options.model) throw new RangeError("Embedding model must be set");
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new RangeError(`Embedding base URL is not a valid URL: ${options.baseUrl}`);
    }
    this.baseUrl = url.toString().replace(/\/+$/, "");
    this.model = options.model;
    this.dimensions = options.dimensions;
    this.sendDimensions = options.sendDimensions ?? false;
    this.apiKey = options.apiKey || undefined;
    this.batchSize = positiveInt(options.batchSize ?? 96, "batchSize");
    this.retries = nonNegativeInt(options.retries ?? 4, "retries");
    this.backoffBaseMs = nonNegativeInt(options.backoffBaseMs ?? 250, "backoffBaseMs");
    this.backoffCapMs = nonNegativeInt(options.backoffCapMs ?? 8000, "backoffCapMs");
    this.timeoutMs = positiveInt(options.timeoutMs ?? 15_000, "timeoutMs");
    this.headers = { ...(options.headers ?? {}) };
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  async embed(texts: string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const batch = texts.slice(start, start + this.batchSize);
      out.push(...(await this.embedBatchWithRetry(batch)));
    }
    return out;
  }

  describe(): EmbeddingProviderDescription {
    return { provider: this.name, model: this.model, dimensions: this.dimensions, baseUrl: this.baseUrl };
  }

  private backoffMs(attempt: number, retryAfter: number | undefined): number {
    if (retryAfter !== undefined) return Math.min(retryAfter, this.backoffCapMs);
    const ceiling = Math.min(this.backoffCapMs, this.backoffBaseMs * 2 ** attempt);
    return Math.floor(this.random() * ceiling); // full jitter
  }

  private async embedBatchWithRetry(batch: string[]): Promise<number[][]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.embedBatch(batch);
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        const failure = error;
        if (attempt >= this.retries) {
          const last = failure.error;
          throw new EmbeddingProviderError(`${last.message} (gave up after ${attempt + 1} attempts)`, {
            ...(last.status !== undefined ? { status: last.status } : {}),
            retryable: true,
            cause: last.cause ?? last,
          });
        }
        await this.sleep(this.backoffMs(attempt, failure.retryAfterMs));
      }
    }
  }

  private async embedBatch(batch: string[]): Promise<number[][]> {
    const body: Record<string, unknown> = { model: this.model, input: batch, encoding_format: "float" };
    if (this.sendDimensions) body.dimensions = this.dimensions;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
      ...this.headers,
    };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;

    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    let payload: unknown;
    try {
      try {
        response = await this.fetchImpl(`${this.baseUrl}/embeddings`, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (error) {
        throw this.networkFailure(error, controller.signal.aborted);
      }
      if (!response.ok) {
        const message = await errorMessageFrom(response).catch(() => response.statusText);
        const status = response.status;
        const error = new EmbeddingProviderError(`Embedding server ${this.baseUrl} answered ${status}: ${message}`, {
          status,
          retryable: status === 429 || status >= 500,
        });
        if (error.retryable) throw new RetryableFailure(error, retryAfterMs(response.headers.get("retry-after")));
        throw error;
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw this.networkFailure(error, controller.signal.aborted);
      }
      try {
        payload = JSON.parse(text);
      } catch (error) {
        throw new EmbeddingProviderError(`Embedding server ${this.baseUrl} returned a body that is not JSON`, {
          status: response.status,
          retryable: false,
          cause: error,
        });
      }
    } finally {
      clearTimeout(timer);
    }

    const parsed = embeddingsResponseSchema.safeParse(payload);
    if (!parsed.success) {
      throw new EmbeddingProviderError(
        `Embedding server ${this.baseUrl} returned an unexpected response shape (expected { data: [{ index, embedding }] })`,
        { status: response.status, retryable: false },
      );
    }
    const data = parsed.data.data;
    if (data.length !== batch.length) {
      throw new EmbeddingProviderError(
        `Embedding server ${this.baseUrl} returned ${data.length} embeddings for ${batch.length} inputs`,
        { status: response.status, retryable: false },
      );
    }
    const vectors = new Array<number[] | undefined>(batch.length);
    for (const item of data) {
      if (item.index >= batch.length || vectors[item.index] !== undefined) {
        throw new EmbeddingProviderError(
          `Embedding server ${this.baseUrl} returned an invalid or duplicate index ${item.index}`,
          { status: response.status, retryable: false },
        );
      }
      if (item.embedding.length !== this.dimensions) {
        throw new EmbeddingProviderError(
          `Embedding model ${this.model} at ${this.baseUrl} returned vectors of ${item.embedding.length} dimensions, but ${this.dimensions} are configured (set CAIRN_EMBEDDING_DIMENSIONS to match the model)`,
          { status: response.status, retryable: false },
        );
      }
      vectors[item.index] = item.embedding;
    }
    return vectors as number[][];
  }

  private networkFailure(error: unknown, timedOut: boolean): RetryableFailure {
    const message = timedOut
      ? `Embedding request to ${this.baseUrl} timed out after ${this.timeoutMs} ms`
      : `Embedding request to ${this.baseUrl} failed: ${describeError(error)}`;
    return new RetryableFailure(new EmbeddingProviderError(message, { retryable: true, cause: error }));
  }
}

/** Internal carrier for a retryable failure plus an optional server-requested delay. */
class RetryableFailure extends Error {
  constructor(
    readonly error: EmbeddingProviderError,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer; got ${value}`);
  return value;
}

function nonNegativeInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer; got ${value}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

const blankToUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);
const optionalPositiveInt = z.preprocess(blankToUndefined, z.coerce.number().int().positive().optional());

const embeddingEnvSchema = z.object({
  CAIRN_EMBEDDING_PROVIDER: z.preprocess(
    (value) => (typeof value === "string" ? blankToUndefined(value.trim().toLowerCase()) : value),
    z.enum(EMBEDDING_PROVIDERS).default("lexical"),
  ),
  CAIRN_EMBEDDING_BASE_URL: z.preprocess(blankToUndefined, z.url().default("https://api.openai.com/v1")),
  CAIRN_EMBEDDING_MODEL: z.preprocess(blankToUndefined, z.string().default("text-embedding-3-small")),
  CAIRN_EMBEDDING_DIMENSIONS: z.preprocess(
    blankToUndefined,
    z.coerce
      .number()
      .int()
      .refine((value) => (SUPPORTED_DIMENSIONS as readonly number[]).includes(value), {
        message: `must be one of ${SUPPORTED_DIMENSIONS.join(", ")}`,
      })
      .optional(),
  ),
  CAIRN_EMBEDDING_API_KEY: z.preprocess(blankToUndefined, z.string().optional()),
  OPENAI_API_KEY: z.preprocess(blankToUndefined, z.string().optional()),
  CAIRN_EMBEDDING_TIMEOUT_MS: optionalPositiveInt,
  CAIRN_EMBEDDING_BATCH_SIZE: optionalPositiveInt,
});

/**
 * Builds the configured provider. Throws at startup with a clear message on invalid
 * configuration (unknown provider, unsupported dimensions, bad URL or numbers).
 */
export function embeddingProviderFromEnv(env: Record<string, string | undefined> = process.env): EmbeddingProvider {
  const parsed = embeddingEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`Invalid embedding configuration: ${problems}`);
  }
  const config = parsed.data;
  if (config.CAIRN_EMBEDDING_PROVIDER === "lexical") {
    return new LexicalHashEmbeddingProvider({ dimensions: config.CAIRN_EMBEDDING_DIMENSIONS ?? 768 });
  }
  const apiKey = config.CAIRN_EMBEDDING_API_KEY ?? config.OPENAI_API_KEY;
  return new OpenAICompatibleEmbeddingProvider({
    baseUrl: config.CAIRN_EMBEDDING_BASE_URL,
    model: config.CAIRN_EMBEDDING_MODEL,
    dimensions: config.CAIRN_EMBEDDING_DIMENSIONS ?? 1536,
    sendDimensions: config.CAIRN_EMBEDDING_DIMENSIONS !== undefined,
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(config.CAIRN_EMBEDDING_TIMEOUT_MS !== undefined ? { timeoutMs: config.CAIRN_EMBEDDING_TIMEOUT_MS } : {}),
    ...(config.CAIRN_EMBEDDING_BATCH_SIZE !== undefined ? { batchSize: config.CAIRN_EMBEDDING_BATCH_SIZE } : {}),
  });
}

/** Cosine similarity of two equal-length vectors (0 when either is all zeros). */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`Vector lengths differ: ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
