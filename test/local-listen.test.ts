/**
 * Where `npm start` listens, and what it says when it cannot: 127.0.0.1 by default, `HOST`
 * opens it up, a busy port is one sentence and a clean non-zero exit. Real processes.
 *
 * "Not reachable on the machine's other addresses" is checked on 127.0.0.2 (any 127/8 address
 * reaches a server bound to every interface, as the HOST=0.0.0.0 case shows, but not one bound
 * to 127.0.0.1) and on the kernel's socket table, so no test traffic leaves the loopback range.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect as connectTcp, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { migratedPgliteFolder } from "./support/databases";
import { freePort, type Spawned, spawnScript, stopProcess, waitForOutput } from "./support/processes";

const KEY = "cairn_0123456789ab_abcdefghijklmnopqrstuvwxyz012345";
const linux = process.platform === "linux";
const root = mkdtempSync(join(tmpdir(), "cairn-listen-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
/** The servers below run one after the other on one migrated folder (faster to open than a new database). */
let folder: Promise<string> | undefined;

async function startServer(env: Record<string, string>): Promise<{ server: Spawned; port: number }> {
  folder ??= migratedPgliteFolder(join(root, "pgdata"));
  const port = await freePort();
  const server = spawnScript("functions/local.ts", [], {
    DATABASE_URL: `pglite:${await folder}`,
    CAIRN_SCHEDULER: "off",
    LOG_LEVEL: "info",
    PORT: String(port),
    ...env,
  });
  await waitForOutput(server, "cairn listening");
  return { server, port };
}

function logLine(server: Spawned, msg: string): Record<string, unknown> | undefined {
  for (const line of server.stdout().split("\n")) {
    if (!line.startsWith("{")) continue;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed.msg === msg) return parsed;
  }
  return undefined;
}

/** Connects to host:port: "connected" or the error code. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port, timeout: 5_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The local addresses of the sockets listening on `port`, from the kernel's tables (Linux). */
function listeningAddresses(port: number): string[] {
  const found: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== "0A") continue; // 0A: LISTEN
      const [hex = "", portHex = ""] = local.split(":");
      if (Number.parseInt(portHex, 16) !== port) continue;
      found.push(
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .reverse()
              .map((byte) => Number.parseInt(byte, 16))
              .join(".")
          : `ipv6:${hex}`,
      );
    }
  }
  return found;
}

describe("npm start: where it listens", () => {
  it("listens on 127.0.0.1 by default, unreachable on other addresses; the log line and the key hint show it", async () => {
    const { server, port } = await startServer({}); // no CAIRN_API_KEY: a key and its curl hint are printed
    try {
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      if (linux) {
        expect(listeningAddresses(port)).toEqual(["127.0.0.1"]);
        expect(await tryConnect("127.0.0.2", port)).toBe("ECONNREFUSED");
      }
      expect(logLine(server, "cairn listening")).toMatchObject({
        address: `127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}`,
        docs: `http://127.0.0.1:${port}/docs`,
      });
      const hint = /Try: curl -H "Authorization: Bearer (cairn_\S+)" (\S+)\n/.exec(server.stdout());
      expect(hint?.[2]).toBe(`http://127.0.0.1:${port}/v1/workspaces`);
      const workspaces = await fetch(hint?.[2] ?? "", { headers: { authorization: `Bearer ${hint?.[1]}` } });
      expect(workspaces.status).toBe(200);
      // Loopback only: a webhook receiver on this machine may be used.
      const connector = await fetch(`http://127.0.0.1:${port}/v1/connectors`, {
        method: "POST",
        headers: { authorization: `Bearer ${hint?.[1]}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "local hook", type: "API", webhookUrl: "http://127.0.0.1:9/hook" }),
      });
      expect(connector.status).toBe(201);
    } finally {
      await stopProcess(server);
    }
  });

  it("HOST=0.0.0.0 listens on every interface, and then refuses webhooks to private addresses by default", async () => {
    const { server, port } = await startServer({ HOST: "0.0.0.0", CAIRN_API_KEY: KEY });
    try {
      if (linux) {
        expect(listeningAddresses(port)).toEqual(["0.0.0.0"]);
        expect(await tryConnect("127.0.0.2", port)).toBe("connected"); // what the default case must refuse
      }
      expect(logLine(server, "cairn listening")).toMatchObject({
        address: `0.0.0.0:${port}`,
        url: `http://127.0.0.1:${port}`,
      });
      const connector = await fetch(`http://127.0.0.1:${port}/v1/connectors`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "local hook", type: "API", webhookUrl: "http://127.0.0.1:9/hook" }),
      });
      expect(connector.status).toBe(400);
      expect(JSON.stringify(await connector.json())).toContain("is not a public address");
    } finally {
      await stopProcess(server);
    }
  });

  describe("a busy port", () => {
    it("is one sentence naming the address and PORT, exit code 1, before any work", async () => {
      const occupant = createServer();
      await new Promise<void>((resolve) => occupant.listen(0, "127.0.0.1", resolve));
      const address = occupant.address();
      const port = typeof address === "object" && address ? address.port : 0;
      const untouched = join(root, "untouched");
      mkdirSync(untouched);
      try {
        const started = Date.now();
        const server = spawnScript("functions/local.ts", [], {
          DATABASE_URL: `pglite:${untouched}`,
          PORT: String(port),
          LOG_LEVEL: "info",
        });
        expect(await server.exited).toEqual({ code: 1, signal: null });
        expect(server.stderr()).toBe(
          `Cannot start Cairn: 127.0.0.1:${port} is already in use by another process; stop it, or choose another port, e.g. PORT=${port + 1} npm start.\n`,
        );
        // Nothing ran: no database opened (so no lock to release), no migrations, no scheduler.
        expect(server.stdout()).toBe("");
        expect(readdirSync(untouched)).toEqual([]);
        expect(Date.now() - started).toBeLessThan(30_000);
      } finally {
        await new Promise<void>((resolve) => occupant.close(() => resolve()));
      }
    });
  });
});
