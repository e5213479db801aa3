/**
 * The rerank hook (functions/memory/rerank.ts): a local reranker function, and a local HTTP
 * server standing in for a `/rerank` endpoint configured by CAIRN_RERANK_URL, on both databases.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import { setEmbeddingProvider } from "../../functions/memory/provider";
import { setReranker } from "../../functions/memory/rerank";
import { describeEachDatabase } from "../support/databases";
import { call, seedWorkspace, testApp } from "../support/http";

const provider = new LexicalHashEmbeddingProvider({ dimensions: 768 });
beforeAll(() => setEmbeddingProvider(provider));
afterAll(() => setEmbeddingProvider(undefined));
afterEach(() => {
  setReranker(undefined);
  delete process.env.CAIRN_RERANK_URL;
  delete process.env.CAIRN_RERANK_TOP_N;
});

const CONTENTS = [
  "The deploy pipeline runs on Linux runners",
  "The deploy pipeline posts to the red channel",
  "The deploy pipeline posts to the blue channel",
  "Deploy approvals come from the release manager",
];
/** A reranker with an opinion the fused ranking does not share: "blue" first, "red" last. */
const colourScore = (document: string) => (document.includes("blue") ? 1 : document.includes("red") ? -1 : 0);

describeEachDatabase("rerank hook", (db) => {
  it("a local reranker function reorders the top candidates of a hybrid search; off when not configured or refused", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    await call(app, "POST", "/v1/memories:batch", { key, body: { items: CONTENTS.map((content) => ({ content })) } });
    const body = { query: "deploy pipeline", topK: 2 };

    const plain = await call(app, "POST", "/v1/memories/search", { key, body });
    expect(plain.status).toBe(200);
    expect(plain.body.results[0].rerankScore).toBeUndefined();

    const seen: { query: string; documents: number }[] = [];
    setReranker({
      topN: 10,
      rerank: async (query, documents) => {
        seen.push({ query, documents: documents.length });
        return documents.map(colourScore);
      },
    });
    const reranked = await call(app, "POST", "/v1/memories/search", { key, body });
    expect(reranked.status).toBe(200);
    expect(reranked.body.results).toHaveLength(2);
    expect(reranked.body.results[0]).toMatchObject({ content: CONTENTS[2], rerankScore: 1 });
    expect(reranked.body.results[1].rerankScore).toBe(0);
    // It saw more candidates than topK: every memory the search found, up to topN.
    expect(seen).toEqual([{ query: "deploy pipeline", documents: 4 }]);

    // Refused per request, and never for a pure vector or text search.
    for (const extra of [{ rerank: false }, { mode: "vector" }, { mode: "text" }]) {
      const off = await call(app, "POST", "/v1/memories/search", { key, body: { ...body, ...extra } });
      expect(off.status).toBe(200);
      expect(off.body.results.every((r: { rerankScore?: number }) => r.rerankScore === undefined)).toBe(true);
    }
    expect(seen).toHaveLength(1);
  });

  it("a configured /rerank endpoint (a local HTTP server) reranks; its failure is a 503, not stale results", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    await call(app, "POST", "/v1/memories:batch", { key, body: { items: CONTENTS.map((content) => ({ content })) } });

    const requests: { model?: string; query: string; documents: string[]; authorization?: string }[] = [];
    let failing = false;
    const server: Server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        const parsed = JSON.parse(text);
        requests.push({ ...parsed, authorization: request.headers.authorization });
        if (failing) {
          response.writeHead(500).end("overloaded");
          return;
        }
        const results = parsed.documents.map((document: string, index: number) => ({
          index,
          relevance_score: colourScore(document),
        }));
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      process.env.CAIRN_RERANK_URL = `http://127.0.0.1:${port}/rerank`;
      process.env.CAIRN_RERANK_MODEL = "bge-reranker-base";
      process.env.CAIRN_RERANK_API_KEY = "secret-token";
      const reranked = await call(app, "POST", "/v1/memories/search", {
        key,
        body: { query: "deploy pipeline", topK: 3 },
      });
      expect(reranked.status).toBe(200);
      expect(reranked.body.results.map((r: { content: string }) => r.content)[0]).toBe(CONTENTS[2]);
      expect(reranked.body.results.at(-1).rerankScore).toBe(0);
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({
        model: "bge-reranker-base",
        query: "deploy pipeline",
        authorization: "Bearer secret-token",
      });
      expect(requests[0]!.documents.sort()).toEqual([...CONTENTS].sort());

      failing = true;
      const failed = await call(app, "POST", "/v1/memories/search", { key, body: { query: "deploy pipeline" } });
      expect(failed.status).toBe(503);
      expect(failed.body.error.message).toContain("reranker");
    } finally {
      delete process.env.CAIRN_RERANK_MODEL;
      delete process.env.CAIRN_RERANK_API_KEY;
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
