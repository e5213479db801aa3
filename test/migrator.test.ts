import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { configureNeonForProxy } from "../db/neon-local";
import { handler } from "../functions/migrator/handler";
import { targets } from "./support/databases";
import { adminQuery, databaseUrl } from "./support/postgres-admin";

const MIGRATIONS = JSON.parse(readFileSync("db/migrations/meta/_journal.json", "utf8")).entries.length as number;

/** The migrator Lambda as a deploy invokes it: against a database with nothing in it yet. */
describe.each(targets)("migrator Lambda [%s]", (target) => {
  const saved = { url: process.env.DATABASE_URL, driver: process.env.CAIRN_DB_DRIVER };
  afterEach(() => {
    process.env.DATABASE_URL = saved.url;
    process.env.CAIRN_DB_DRIVER = saved.driver;
  });

  it("migrates a fresh database once; the second invocation applies nothing", async () => {
    let cleanup: () => Promise<void>;
    if (target === "postgres") {
      const server = process.env.TEST_DATABASE_URL!;
      const name = `cairn_migrator_${randomBytes(5).toString("hex")}`;
      await adminQuery(server, `create database ${name}`);
      configureNeonForProxy(inject("wsProxyPort"));
      process.env.DATABASE_URL = databaseUrl(server, name);
      process.env.CAIRN_DB_DRIVER = "neon";
      cleanup = () => adminQuery(server, `drop database if exists ${name} with (force)`);
    } else {
      const dir = mkdtempSync(join(tmpdir(), "cairn-migrator-"));
      process.env.DATABASE_URL = `pglite:${dir}`;
      delete process.env.CAIRN_DB_DRIVER;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    try {
      expect(await handler()).toEqual({ applied: MIGRATIONS });
      expect(await handler()).toEqual({ applied: 0 });
    } finally {
      await cleanup();
    }
  });
});
