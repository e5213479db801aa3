import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  cosineSimilarity,
  EMBEDDING_PROVIDERS,
  EmbeddingProviderError,
  embeddingProviderFromEnv,
  LexicalHashEmbeddingProvider,
  OpenAICompatibleEmbeddingProvider,
  type OpenAICompatibleOptions,
  SUPPORTED_DIMENSIONS,
} from "../../functions/memory/embeddings";

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe("LexicalHashEmbeddingProvider", () => {
  it("is deterministic across instances", async () => {
    const a = await new LexicalHashEmbeddingProvider().embed(["The quick brown fox jumps over the lazy dog"]);
    const b = await new LexicalHashEmbeddingProvider().embed(["The quick brown fox jumps over the lazy dog"]);
    expect(a).toEqual(b);
  });

  it.each(SUPPORTED_DIMENSIONS)("produces unit vectors of %i dimensions", async (dimensions) => {
    const provider = new LexicalHashEmbeddingProvider({ dimensions });
    expect(provider.dimensions).toBe(dimensions);
    const vectors = await provider.embed(["hello world", "Postgres with pgvector and HNSW indexes", "a"]);
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toHaveLength(dimensions);
      expect(norm(v)).toBeCloseTo(1, 10);
      expect(v.every(Number.isFinite)).toBe(true);
    }
  });

  it("rejects unsupported dimensions", () => {
    expect(() => new LexicalHashEmbeddingProvider({ dimensions: 512 })).toThrow(/768, 1536/);
  });

  it("maps blank or punctuation-only text to the fixed unit vector e0", async () => {
    const [empty, blank, punct] = await new LexicalHashEmbeddingProvider().embed(["", "  \n\t", "?!.,"]);
    for (const v of [empty!, blank!, punct!]) {
      expect(v[0]).toBe(1);
      expect(norm(v)).toBe(1);
    }
  });

  it("is case-insensitive and keeps order", async () => {
    const provider = new LexicalHashEmbeddingProvider();
    const [a, b, c] = await provider.embed(["Deploy the API", "deploy THE api", "something else"]);
    expect(cosineSimilarity(a!, b!)).toBeCloseTo(1, 10);
    expect(cosineSimilarity(a!, c!)).toBeLessThan(0.5);
  });

  it("ranks similar texts above unrelated ones", async () => {
    const provider = new LexicalHashEmbeddingProvider();
    const [query, near, paraphrase, far] = await provider.embed([
      "database migration failed on the production server",
      "the production database migration failed last night",
      "migrations of databases failing in production",
      "my cat enjoys sleeping in the warm afternoon sun",
    ]);
    const simNear = cosineSimilarity(query!, near!);
    const simPara = cosineSimilarity(query!, paraphrase!);
    const simFar = cosineSimilarity(query!, far!);
    expect(simNear).toBeGreaterThan(simFar);
    expect(simPara).toBeGreaterThan(simFar); // character n-grams catch inflections
    expect(simNear).toBeGreaterThan(0.5);
    expect(simFar).toBeLessThan(0.2);
  });

  it("describes itself for /health", () => {
    expect(new LexicalHashEmbeddingProvider({ dimensions: 1536 }).describe()).toEqual({
      provider: "lexical",
      model: "lexical-hash-v1",
      dimensions: 1536,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// A local server speaking the OpenAI embeddings API
// ---------------------------------------------------------------------------------------------

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: { model: string; input: string[]; dimensions?: number },
) => void;

interface RecordedRequest {
  headers: IncomingMessage["headers"];
  body: { model: string; input: string[]; dimensions?: number; encoding_format?: string };
}

let server: Server;
let baseUrl: string;
let handlers: Handler[] = [];
let requests: RecordedRequest[] = [];

/** Embedding of text t: a vector whose first component encodes t's length, so order is checkable. */
function fakeEmbedding(text: string, dimensions: number): number[] {
  const v = new Array<number>(dimensions).fill(0);
  v[0] = text.length;
  v[1] = Number(text.replace(/\D/g, "") || 0);
  return v;
}

const succeed =
  (dimensions = 768, { reverse = true } = {}): Handler =>
  (_req, res, body) => {
    const data = body.input.map((text, index) => ({
      object: "embedding",
      index,
      embedding: fakeEmbedding(text, dimensions),
    }));
    if (reverse) data.reverse(); // the client must restore order by index
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ object: "list", data, model: body.model }));
  };

const fail =
  (status: number, message: string, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ error: { message, type: "test" } }));
  };

const hang: Handler = () => {
  /* never answers */
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      requests.push({ headers: req.headers, body });
      if (req.url !== "/v1/embeddings" || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const handler = handlers.length > 1 ? handlers.shift()! : handlers[0];
      if (!handler) {
        res.writeHead(500).end("no handler");
        return;
      }
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  handlers = [];
  requests = [];
});

function client(overrides: Partial<OpenAICompatibleOptions> = {}) {
  return new OpenAICompatibleEmbeddingProvider({
    baseUrl,
    model: "test-embed",
    dimensions: 768,
    backoffBaseMs: 1,
    backoffCapMs: 20,
    timeoutMs: 2000,
    ...overrides,
  });
}

describe("OpenAICompatibleEmbeddingProvider", () => {
  it("batches inputs and restores order by index", async () => {
    handlers = [succeed()];
    const inputs = Array.from({ length: 10 }, (_, i) => `text ${i}${"x".repeat(i)}`);
    const vectors = await client({ batchSize: 4, apiKey: "sk-test" }).embed(inputs);
    expect(requests.map((r) => r.body.input.length)).toEqual([4, 4, 2]);
    expect(vectors).toHaveLength(10);
    vectors.forEach((v, i) => {
      expect(v).toHaveLength(768);
      expect(v[0]).toBe(inputs[i]!.length);
      expect(v[1]).toBe(i);
    });
    const first = requests[0]!;
    expect(first.headers.authorization).toBe("Bearer sk-test");
    expect(first.headers["content-type"]).toMatch(/application\/json/);
    expect(first.body.model).toBe("test-embed");
    expect(first.body.encoding_format).toBe("float");
    expect(first.body).not.toHaveProperty("dimensions");
  });

  it("sends dimensions only when asked and no Authorization without a key", async () => {
    handlers = [succeed(1536)];
    await client({ dimensions: 1536, sendDimensions: true }).embed(["a"]);
    expect(requests[0]!.body.dimensions).toBe(1536);
    expect(requests[0]!.headers.authorization).toBeUndefined();
  });

  it("returns [] without a request for no inputs", async () => {
    expect(await client().embed([])).toEqual([]);
    expect(requests).toHaveLength(0);
  });

  it("retries a 429 without Retry-After, then succeeds", async () => {
    handlers = [fail(429, "slow down"), succeed()];
    const sleeps: number[] = [];
    const vectors = await client({
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
    }).embed(["a", "b"]);
    expect(vectors).toHaveLength(2);
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([0]); // floor(0.5 * min(20, 1 * 2^0))
  });

  it("honours Retry-After on 429, capped", async () => {
    handlers = [
      fail(429, "slow down", { "retry-after": "1" }),
      fail(429, "slow down", { "retry-after": "0" }),
      succeed(),
    ];
    const sleeps: number[] = [];
    await client({ backoffCapMs: 500, sleep: async (ms) => void sleeps.push(ms) }).embed(["a"]);
    expect(sleeps).toEqual([500, 0]); // 1 s capped at 500 ms, then 0 s
    expect(requests).toHaveLength(3);
  });

  it("really waits between retries (default sleep)", async () => {
    handlers = [fail(429, "slow down", { "retry-after": "0.05" }), succeed()];
    const started = Date.now();
    await client({ backoffCapMs: 1000 }).embed(["a"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });

  it("uses exponential backoff with full jitter", async () => {
    handlers = [fail(503, "busy"), fail(503, "busy"), fail(503, "busy"), fail(503, "busy"), succeed()];
    const sleeps: number[] = [];
    await client({
      backoffBaseMs: 100,
      backoffCapMs: 500,
      random: () => 0.999,
      sleep: async (ms) => void sleeps.push(ms),
    }).embed(["a"]);
    expect(sleeps).toEqual([99, 199, 399, 499]);
  });

  it("retries a 500, then succeeds", async () => {
    handlers = [fail(500, "boom"), succeed()];
    const vectors = await client().embed(["a"]);
    expect(vectors).toHaveLength(1);
    expect(requests).toHaveLength(2);
  });

  it("gives up after the configured retries with a retryable error", async () => {
    handlers = [fail(502, "bad gateway")];
    const error = await client({ retries: 2 })
      .embed(["a"])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingProviderError);
    expect((error as EmbeddingProviderError).status).toBe(502);
    expect((error as EmbeddingProviderError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/bad gateway.*3 attempts/);
    expect(requests).toHaveLength(3);
  });

  it("fails a 400 immediately with the server's message", async () => {
    handlers = [fail(400, "This model's maximum context length is 8192 tokens")];
    const error = await client()
      .embed(["a"])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingProviderError);
    expect((error as EmbeddingProviderError).status).toBe(400);
    expect((error as EmbeddingProviderError).retryable).toBe(false);
    expect((error as Error).message).toContain("maximum context length is 8192 tokens");
    expect(requests).toHaveLength(1);
  });

  it("fails a 401 immediately", async () => {
    handlers = [fail(401, "Incorrect API key provided")];
    await expect(client().embed(["a"])).rejects.toThrow(/401: Incorrect API key/);
    expect(requests).toHaveLength(1);
  });

  it("times out when the server never answers, with bounded attempts", async () => {
    handlers = [hang];
    const started = Date.now();
    const error = await client({ timeoutMs: 100, retries: 1 })
      .embed(["a"])
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(EmbeddingProviderError);
    expect((error as EmbeddingProviderError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/timed out after 100 ms.*2 attempts/);
    expect(requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1500);
  });

  it("recovers when a timed-out request succeeds on retry", async () => {
    handlers = [hang, succeed()];
    const vectors = await client({ timeoutMs: 100 }).embed(["a"]);
    expect(vectors).toHaveLength(1);
  });

  it("retries network errors (connection refused) and then fails", async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    let attempts = 0;
    const error = await client({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      retries: 2,
      sleep: async () => void attempts++,
    })
      .embed(["a"])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingProviderError);
    expect((error as EmbeddingProviderError).retryable).toBe(true);
    expect(attempts).toBe(2);
  });

  it("rejects vectors with the wrong dimensions", async () => {
    handlers = [succeed(1536)];
    const error = await client({ dimensions: 768 })
      .embed(["a"])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingProviderError);
    expect((error as EmbeddingProviderError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/1536 dimensions, but 768 are configured/);
    expect(requests).toHaveLength(1);
  });

  it("rejects a response with the wrong number of embeddings", async () => {
    handlers = [
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: [{ index: 0, embedding: new Array(768).fill(0) }] }));
      },
    ];
    await expect(client().embed(["a", "b"])).rejects.toThrow(/1 embeddings for 2 inputs/);
  });

  it("rejects a malformed response", async () => {
    handlers = [
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ embeddings: [] }));
      },
    ];
    await expect(client().embed(["a"])).rejects.toThrow(/unexpected response shape/);
  });

  it("describes itself without the API key", () => {
    const description = client({ apiKey: "sk-secret" }).describe();
    expect(description).toEqual({ provider: "openai", model: "test-embed", dimensions: 768, baseUrl });
    expect(JSON.stringify(description)).not.toContain("sk-secret");
  });
});

describe("embeddingProviderFromEnv", () => {
  it("defaults to the lexical provider with 768 dimensions", () => {
    const provider = embeddingProviderFromEnv({});
    expect(provider).toBeInstanceOf(LexicalHashEmbeddingProvider);
    expect(provider.describe()).toEqual({ provider: "lexical", model: "lexical-hash-v1", dimensions: 768 });
  });

  it("names each provider in /health by the CAIRN_EMBEDDING_PROVIDER value that selects it", () => {
    for (const name of EMBEDDING_PROVIDERS) {
      const provider = embeddingProviderFromEnv({ CAIRN_EMBEDDING_PROVIDER: name, OPENAI_API_KEY: "sk-x" });
      expect(provider.name).toBe(name);
      expect(provider.describe().provider).toBe(name);
    }
  });

  it("builds the lexical provider with 1536 dimensions", () => {
    const provider = embeddingProviderFromEnv({
      CAIRN_EMBEDDING_PROVIDER: "lexical",
      CAIRN_EMBEDDING_DIMENSIONS: "1536",
    });
    expect(provider.dimensions).toBe(1536);
  });

  it("builds the OpenAI-compatible provider with defaults", async () => {
    const provider = embeddingProviderFromEnv({ CAIRN_EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x" });
    expect(provider).toBeInstanceOf(OpenAICompatibleEmbeddingProvider);
    expect(provider.describe()).toEqual({
      provider: "openai",
      model: "text-embedding-3-small",
      dimensions: 1536,
      baseUrl: "https://api.openai.com/v1",
    });
  });

  it("passes configuration through to requests", async () => {
    handlers = [succeed(768)];
    const provider = embeddingProviderFromEnv({
      CAIRN_EMBEDDING_PROVIDER: "openai",
      CAIRN_EMBEDDING_BASE_URL: `${baseUrl}/`,
      CAIRN_EMBEDDING_MODEL: "nomic-embed-text",
      CAIRN_EMBEDDING_DIMENSIONS: "768",
      CAIRN_EMBEDDING_API_KEY: "sk-primary",
      OPENAI_API_KEY: "sk-fallback",
      CAIRN_EMBEDDING_BATCH_SIZE: "2",
      CAIRN_EMBEDDING_TIMEOUT_MS: "5000",
    });
    await provider.embed(["a", "b", "c"]);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.body.model).toBe("nomic-embed-text");
    expect(requests[0]!.body.dimensions).toBe(768);
    expect(requests[0]!.headers.authorization).toBe("Bearer sk-primary");
  });

  it("throws clearly on unsupported dimensions or provider", () => {
    expect(() => embeddingProviderFromEnv({ CAIRN_EMBEDDING_DIMENSIONS: "1024" })).toThrow(
      /CAIRN_EMBEDDING_DIMENSIONS: must be one of 768, 1536/,
    );
    expect(() => embeddingProviderFromEnv({ CAIRN_EMBEDDING_PROVIDER: "cohere" })).toThrow(/CAIRN_EMBEDDING_PROVIDER/);
    expect(() =>
      embeddingProviderFromEnv({ CAIRN_EMBEDDING_PROVIDER: "openai", CAIRN_EMBEDDING_BASE_URL: "not a url" }),
    ).toThrow(/CAIRN_EMBEDDING_BASE_URL/);
    expect(() => embeddingProviderFromEnv({ CAIRN_EMBEDDING_BATCH_SIZE: "0" })).toThrow(/CAIRN_EMBEDDING_BATCH_SIZE/);
  });

  it("treats blank variables as unset", () => {
    const provider = embeddingProviderFromEnv({ CAIRN_EMBEDDING_PROVIDER: "", CAIRN_EMBEDDING_DIMENSIONS: " " });
    expect(provider.describe().dimensions).toBe(768);
  });
});
