import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * `npm start` as a user runs it: the local server over an embedded PGlite in a fresh folder,
 * no Postgres server, no network. (The entry is started with tsx directly, as the npm script does.)
 */
const KEY = "cairn_0123456789ab_abcdefghijklmnopqrstuvwxyz012345";
const MIGRATIONS = JSON.parse(readFileSync("db/migrations/meta/_journal.json", "utf8")).entries.length as number;

interface Started {
  child: ChildProcess;
  log: () => string;
  port: number;
}

async function start(env: Record<string, string>): Promise<Started> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  let output = "";
  const child = spawn(process.execPath, ["--import", "tsx", "functions/local.ts"], {
    env: { ...process.env, LOG_LEVEL: "info", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  for (let i = 0; i < 120 && !output.includes("cairn listening"); i++) {
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!output.includes("cairn listening")) {
    child.kill();
    throw new Error(`server did not start:\n${output}`);
  }
  return { child, log: () => output, port };
}

async function stop(started: Started) {
  const exited = new Promise((resolve) => started.child.once("exit", resolve));
  started.child.kill("SIGTERM");
  await exited;
}

describe("npm start (embedded default)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-local-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("migrates, creates the first workspace for CAIRN_API_KEY, serves /health and /v1, runs the scheduler", async () => {
    const server = await start({ DATABASE_URL: `pglite:${dir}`, CAIRN_API_KEY: KEY });
    try {
      const health = await fetch(`http://127.0.0.1:${server.port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "ok", database: { status: "ok", driver: "pglite" } });
      const openapi = await fetch(`http://127.0.0.1:${server.port}/openapi.json`);
      expect(openapi.status).toBe(200);
      const workspaces = await fetch(`http://127.0.0.1:${server.port}/v1/workspaces`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(workspaces.status).toBe(200);
      expect(((await workspaces.json()) as { items: unknown[] }).items).toHaveLength(1);
      expect(server.log()).toContain('"msg":"scheduler started"');
      expect(server.log()).toContain(`"migrationsApplied":${MIGRATIONS}`);
    } finally {
      await stop(server);
    }
  });

  it("restarts on the same data without creating another workspace, and the scheduler can be switched off", async () => {
    const server = await start({ DATABASE_URL: `pglite:${dir}`, CAIRN_API_KEY: KEY, CAIRN_SCHEDULER: "off" });
    try {
      const workspaces = await fetch(`http://127.0.0.1:${server.port}/v1/workspaces`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(((await workspaces.json()) as { items: unknown[] }).items).toHaveLength(1);
      expect(server.log()).toContain('"migrationsApplied":0');
      expect(server.log()).toContain('"msg":"scheduler disabled"');
      expect(server.log()).not.toContain('"msg":"scheduler started"');
    } finally {
      await stop(server);
    }
  });
});
