/**
 * No self-lockout, the way back: when every admin key of a workspace is gone, an operator who
 * holds the database runs `npm run admin -- create-key` (the server stopped, on the embedded
 * PGlite) and gets a new admin key for an owner.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { expect, it, onTestFinished } from "vitest";
import { connect, type Database } from "../../db/client";
import { bootstrapWorkspace } from "../../functions/platform/workspaces";
import { describeEachDatabase, migratedPgliteFolder } from "../support/databases";
import { call, testApp } from "../support/http";

const run = promisify(execFile);

/** A workspace whose every key is revoked, as when the last admin key was lost. */
async function lockedOut(database: Database) {
  const made = await bootstrapWorkspace(database, {
    name: "locked out",
    email: `owner-${Date.now()}-${Math.random().toString(36).slice(2)}@example.test`,
  });
  await database.withMaintenance((tx) =>
    tx.execute(sql`update api_keys set revoked_at = now() where workspace_id = ${made.workspace.id}::uuid`),
  );
  return made;
}

describeEachDatabase("trust: recovering a locked-out workspace", (db) => {
  it("npm run admin -- create-key prints a working admin key for the owner; the old ones stay revoked", async () => {
    const { target, url, database: shared } = db();
    const folder = mkdtempSync(join(tmpdir(), "cairn-admin-cli-"));
    onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
    // PGlite in memory is private to this process: the CLI gets a folder, opened by one process at a time.
    const databaseUrl = target === "postgres" ? url : `pglite:${await migratedPgliteFolder(folder)}`;
    const open = async () => (target === "postgres" ? shared : await connect(databaseUrl));
    const close = async (database: Database) => {
      if (database !== shared) await database.close();
    };

    const setup = await open();
    const made = await lockedOut(setup);
    await close(setup);

    const cli = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", "scripts/admin.ts", ...args], {
        env: { ...process.env, DATABASE_URL: databaseUrl },
        timeout: 110_000,
      });
    const { stdout } = await cli("create-key", "--workspace", made.workspace.id);
    const key = /cairn_[0-9a-f]{12}_[A-Za-z0-9_-]{32}/.exec(stdout)?.[0];
    expect(key, stdout).toBeDefined();
    await expect(cli("create-key", "--workspace", crypto.randomUUID())).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("No workspace with such an owner"),
    });

    const after = await open();
    try {
      const app = testApp(after);
      expect((await call(app, "GET", "/v1/api-keys", { key })).status).toBe(200);
      expect((await call(app, "GET", "/v1/members", { key: made.apiKey.key })).status).toBe(401);
    } finally {
      await close(after);
    }
  }, 240_000);
});
