import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { generateSchema, schemaPath } from "../../sdk/scripts/generate";
import { CairnError, createClient, nextClaimDelay } from "../../sdk/src/index";
import { fullJitter, retryAfterMs } from "../../sdk/src/retry";

const KEY = "cairn_0123456789ab_abcdefghijklmnopqrstuvwxyz012345";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
}

/** A tiny HTTP server that plays a script of answers and records what it received. */
async function scripted(answer: (request: Seen, index: number, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const request = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, at: Date.now() };
      seen.push(request);
      answer(request, seen.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};
const busy = { error: { code: "unavailable", message: "try later" } };

describe("generated types", () => {
  it("sdk/src/schema.ts is what npm run sdk:generate makes from functions/platform/openapi.json", async () => {
    const committed = readFileSync(schemaPath, "utf8");
    expect(committed === (await generateSchema()), "sdk/src/schema.ts is stale: run npm run sdk:generate").toBe(true);
  });
});

describe("createClient retries", () => {
  it("waits the Retry-After seconds of a 503, then returns the success", async () => {
    const server = await scripted((_, i, res) =>
      i === 0 ? json(res, 503, busy, { "retry-after": "1" }) : json(res, 200, { items: [] }),
    );
    const client = createClient({ baseUrl: server.url, apiKey: KEY, retry: { baseMs: 1, capMs: 1 } });
    const started = Date.now();
    expect(await client.GET("/v1/workspaces")).toEqual({ items: [] });
    expect(server.seen).toHaveLength(2);
    // Backoff alone would have waited at most 1 ms.
    expect(server.seen[1].at - server.seen[0].at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("honours a Retry-After HTTP date on a 429", async () => {
    const server = await scripted((_, i, res) =>
      i === 0
        ? json(res, 429, busy, { "retry-after": new Date(Date.now() + 2000).toUTCString() })
        : json(res, 200, { items: [] }),
    );
    const client = createClient({ baseUrl: server.url, apiKey: KEY, retry: { baseMs: 1, capMs: 1 } });
    await client.GET("/v1/workspaces");
    expect(server.seen).toHaveLength(2);
    // An HTTP date has whole seconds: 2 s ahead is 1-2 s away.
    expect(server.seen[1].at - server.seen[0].at).toBeGreaterThanOrEqual(950);
  });

  it("gives up after `retries` and throws the last answer as a CairnError with the API's code", async () => {
    const server = await scripted((_, __, res) => json(res, 503, busy));
    const retries: number[] = [];
    const client = createClient({
      baseUrl: server.url,
      apiKey: KEY,
      retry: { retries: 3, baseMs: 5, capMs: 20, onRetry: (info) => retries.push(info.status) },
    });
    const error = await client.GET("/v1/workspaces").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CairnError);
    expect(error).toMatchObject({
      status: 503,
      code: "unavailable",
      message: "try later",
      operation: "GET /v1/workspaces",
    });
    expect(server.seen).toHaveLength(4);
    expect(retries).toEqual([503, 503, 503]);
  });

  it("does not wait for a Retry-After longer than maxRetryAfterMs", async () => {
    const server = await scripted((_, __, res) => json(res, 503, busy, { "retry-after": "3600" }));
    const client = createClient({ baseUrl: server.url, apiKey: KEY, retry: { maxRetryAfterMs: 5_000 } });
    await expect(client.GET("/v1/workspaces")).rejects.toMatchObject({ status: 503 });
    expect(server.seen).toHaveLength(1);
  });

  it("sends one Idempotency-Key for a create and all its retries, keeps the caller's, and adds none elsewhere", async () => {
    const server = await scripted((request, _, res) =>
      server.seen.filter((s) => s.url === request.url && s.method === request.method).length === 1
        ? json(res, 503, busy, { "retry-after": "0" })
        : json(res, request.method === "POST" ? 201 : 200, { id: "x", items: [] }),
    );
    const client = createClient({ baseUrl: server.url, apiKey: KEY });
    await client.POST("/v1/work-orders", { body: { title: "t" } });
    const [first, retry] = server.seen;
    expect(first.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(retry.headers["idempotency-key"]).toBe(first.headers["idempotency-key"]);
    expect(retry.body).toBe(first.body);

    await client.POST("/v1/work-orders", { body: { title: "t" }, params: { header: { "Idempotency-Key": "mine" } } });
    expect(server.seen[2].headers["idempotency-key"]).toBe("mine");
    await client.GET("/v1/work-orders");
    expect(server.seen.at(-1)?.headers["idempotency-key"]).toBeUndefined();
    // The SDK's private header never leaves the process.
    expect(server.seen.every((s) => !("x-cairn-sdk-operation" in s.headers))).toBe(true);
  });

  it("retries network errors only where repeating is safe", async () => {
    let drop = true;
    const server = await scripted((_, __, res) => {
      if (drop) return void res.socket?.destroy();
      json(res, 200, { items: [] });
    });
    const client = createClient({ baseUrl: server.url, apiKey: KEY, retry: { retries: 2, baseMs: 5, capMs: 5 } });
    // A claim is not repeatable: a lost answer may have leased items, and a retry would lease more.
    const claim = await client.POST("/v1/work-items/claim", { body: { workerId: "w" } }).catch((e: unknown) => e);
    expect(claim).toMatchObject({ status: 0, code: "network_error" });
    expect(server.seen).toHaveLength(1);
    // A GET is: three tries in all, then the error.
    await expect(client.GET("/v1/workspaces")).rejects.toMatchObject({ code: "network_error" });
    expect(server.seen).toHaveLength(4);
    drop = false;
    expect(await client.GET("/v1/workspaces")).toEqual({ items: [] });
  });
});

describe("CairnError", () => {
  it("carries status, code, message and details of the API's error body", async () => {
    const details = [{ path: "title", message: "Required" }];
    const server = await scripted((_, __, res) =>
      json(res, 400, { error: { code: "validation_failed", message: "The request json is not valid", details } }),
    );
    const client = createClient({ baseUrl: server.url, apiKey: KEY });
    const error = await client.POST("/v1/work-orders", { body: { title: "" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CairnError);
    expect(error).toMatchObject({
      status: 400,
      code: "validation_failed",
      message: "The request json is not valid",
      details,
      operation: "POST /v1/work-orders",
    });
  });

  it("names the status when the body is not Cairn's (a proxy's HTML page)", async () => {
    const server = await scripted((_, __, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>Bad gateway</html>");
    });
    const error = await createClient({ baseUrl: server.url, apiKey: KEY })
      .GET("/v1/workspaces")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: "http_502", message: "<html>Bad gateway</html>" });
  });
});

describe("the API key", () => {
  it("goes only in the Authorization header: not in the URL, the client object or an error", async () => {
    const server = await scripted((_, __, res) => json(res, 404, { error: { code: "not_found", message: "nope" } }));
    const client = createClient({ baseUrl: server.url, apiKey: KEY });
    const error = await client
      .GET("/v1/work-orders/{id}", { params: { path: { id: "00000000-0000-0000-0000-000000000000" } } })
      .catch((e: unknown) => e);
    expect(server.seen[0].headers.authorization).toBe(`Bearer ${KEY}`);
    expect(server.seen[0].url).not.toContain(KEY);
    expect(inspect(client, { depth: 5 })).not.toContain(KEY);
    expect(inspect(error, { depth: 5 }) + JSON.stringify(error)).not.toContain(KEY);
  });

  it("is refused in the base URL", () => {
    expect(() => createClient({ baseUrl: `http://h/?key=${KEY}`, apiKey: KEY })).toThrow(/credentials or a query/);
    expect(() => createClient({ baseUrl: `http://user:${KEY}@h`, apiKey: KEY })).toThrow(/credentials/);
  });
});

describe("backoff arithmetic", () => {
  it("full jitter stays within [0, min(cap, base·2^attempt)]", () => {
    expect(fullJitter(3, { baseMs: 100, capMs: 10_000 }, () => 0.999999)).toBe(800);
    expect(fullJitter(20, { baseMs: 100, capMs: 10_000 }, () => 0.5)).toBe(5000);
    expect(fullJitter(2, { baseMs: 100, capMs: 10_000 }, () => 0)).toBe(0);
  });

  it("Retry-After parses seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("7", now)).toBe(7000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(retryAfterMs("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it("the worker polls an empty queue with growing jittered delays, and sleeps as long as a claim's Retry-After says", () => {
    const empty = { requested: 4, claimed: 0, response: new Response("{}") };
    const poll = { minMs: 100, maxMs: 1000 };
    expect(nextClaimDelay({ ...empty, claimed: 2 }, 5, poll)).toBe(0);
    expect(nextClaimDelay(empty, 0, poll, () => 0)).toBe(50);
    expect(nextClaimDelay(empty, 0, poll, () => 1)).toBe(100);
    expect(nextClaimDelay(empty, 3, poll, () => 1)).toBe(800);
    expect(nextClaimDelay(empty, 30, poll, () => 1)).toBe(1000);
    const due = { ...empty, response: new Response("{}", { headers: { "retry-after": "12" } }) };
    expect(nextClaimDelay(due, 0, poll)).toBe(12_000);
  });

  it("the worker sleeps until the claim's nextClaimableAt when a rate limit held items back", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const limited = {
      requested: 4,
      claimed: 0,
      response: new Response("{}"),
      nextClaimableAt: "2026-01-01T00:00:02.500Z",
    };
    const poll = { minMs: 100, maxMs: 1000 };
    expect(nextClaimDelay(limited, 0, poll, () => 0, now)).toBe(2500);
    // Already due: claim again (almost) at once; items claimed: no wait at all.
    expect(nextClaimDelay({ ...limited, nextClaimableAt: "2025-12-31T23:59:59Z" }, 0, poll, () => 0, now)).toBe(1);
    expect(nextClaimDelay({ ...limited, claimed: 1 }, 0, poll, () => 0, now)).toBe(0);
    // No word from the server: the usual backoff.
    expect(nextClaimDelay({ ...limited, nextClaimableAt: null }, 0, poll, () => 0, now)).toBe(50);
  });
});
