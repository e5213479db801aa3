/**
 * End to end, as agents reach it: `npm start` in its own process (tsx functions/local.ts over
 * an in-memory PGlite), then the same scenarios as in-process, with the SDK's client over
 * Streamable HTTP and through `cairn mcp` (the stdio bridge) in its own process.
 */
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpScenarios } from "./scenarios";
import { bridgeTransport, httpTarget, type SpawnedServer, startServer, stdioTarget, type Target } from "./support";

const KEY = `cairn_${randomBytes(6).toString("hex")}_${randomBytes(24).toString("base64url")}`;

/** A bridge process with its stderr collected, connected (or not) by the SDK's client. */
function bridge(env: Record<string, string>) {
  const transport = bridgeTransport(env);
  let stderr = "";
  transport.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return { client: new Client({ name: "cairn-test", version: "1.0.0" }), transport, stderr: () => stderr };
}

describe("MCP against `npm start`", () => {
  let server: SpawnedServer;
  beforeAll(async () => {
    server = await startServer(KEY);
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const [name, make] of [
    ["over Streamable HTTP", httpTarget],
    ["through the stdio bridge", stdioTarget],
  ] as const) {
    describe(name, () => {
      let target: Target;
      beforeAll(() => {
        target = make(server.base);
      });
      afterAll(async () => {
        await target?.close();
      });
      mcpScenarios(
        () => target,
        () => KEY,
      );
    });
  }

  describe("the stdio bridge", () => {
    it("answers the client with the server's refusal of a wrong key, and never shows the key", async () => {
      const wrongKey = `cairn_${randomBytes(6).toString("hex")}_${randomBytes(24).toString("base64url")}`;
      const { client, transport, stderr } = bridge({ CAIRN_URL: server.base, CAIRN_API_KEY: wrongKey });
      try {
        await expect(client.connect(transport)).rejects.toThrow(/401|not valid/);
        expect(stderr()).toContain("not valid");
        expect(stderr()).not.toContain(wrongKey);
      } finally {
        await client.close();
      }
    });

    it("answers the client when the server cannot be reached, instead of leaving it waiting", async () => {
      const { client, transport } = bridge({ CAIRN_URL: "http://127.0.0.1:9", CAIRN_API_KEY: KEY });
      try {
        await expect(client.connect(transport, { timeout: 20_000 })).rejects.toThrow(
          /Cairn at http:\/\/127\.0\.0\.1:9/,
        );
      } finally {
        await client.close();
      }
    });

    it("refuses to start without its settings, or with a key in the URL", async () => {
      const settings: Array<Record<string, string>> = [
        { CAIRN_API_KEY: KEY },
        { CAIRN_URL: server.base },
        { CAIRN_URL: `http://user:${KEY}@127.0.0.1:9`, CAIRN_API_KEY: KEY },
      ];
      for (const env of settings) {
        const { client, transport, stderr } = bridge(env);
        await expect(client.connect(transport, { timeout: 20_000 })).rejects.toThrow();
        await client.close();
        expect(stderr()).toMatch(/CAIRN_URL|CAIRN_API_KEY/);
        expect(stderr()).not.toContain(KEY);
      }
    });
  });

  it("never wrote an API key to its log", () => {
    expect(server.log()).toContain('"path":"/mcp"');
    expect(server.log()).not.toContain(KEY.slice(19));
  });
});
