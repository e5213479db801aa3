import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { connect, type Database } from "../../db/client";
import { migrate } from "../../db/migrate";
import { configureNeonForProxy } from "../../db/neon-local";
import { adminQuery, databaseUrl } from "./postgres-admin";

export type TestTarget = "pglite" | "postgres";

/** PGlite always; real PostgreSQL (through the production Neon driver) when TEST_DATABASE_URL is set. */
export const targets: TestTarget[] = process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];

export interface TestDatabase {
  database: Database;
  target: TestTarget;
  /** For tests that need a second, independent pool (concurrency). */
  url: string;
  close(): Promise<void>;
}

export async function openTestDatabase(target: TestTarget): Promise<TestDatabase> {
  if (target === "pglite") {
    // Started from the migrated template of global-setup.ts (migrated here when there is none).
    const template = inject("pgliteTemplate");
    const database = await connect("pglite:memory", {
      pgliteTemplate: template ? new Blob([readFileSync(template)]) : undefined,
    });
    if (!template) await migrate(database);
    return { database, target, url: "pglite:memory", close: () => database.close() };
  }
  const server = process.env.TEST_DATABASE_URL;
  if (!server) throw new Error("the postgres target needs TEST_DATABASE_URL");
  const name = `cairn_t_${randomBytes(6).toString("hex")}`;
  await adminQuery(server, `create database ${name} template ${inject("templateDatabase")}`);
  configureNeonForProxy(inject("wsProxyPort"));
  const url = databaseUrl(server, name);
  const database = await connect(url, { driver: "neon", max: 20 });
  return {
    database,
    target,
    url,
    close: async () => {
      await database.close();
      await adminQuery(server, `drop database if exists ${name} with (force)`);
    },
  };
}

/**
 * Runs `body` once per target database, in a describe block tagged `[pglite]` or
 * `[postgres]` (CI checks that the `[postgres]` ones ran). The database is fresh and
 * migrated for the block.
 */
export function describeEachDatabase(title: string, body: (db: () => TestDatabase) => void): void {
  for (const target of targets) {
    describe(`${title} [${target}]`, () => {
      let current: TestDatabase | undefined;
      beforeAll(async () => {
        current = await openTestDatabase(target);
      });
      afterAll(async () => {
        await current?.close();
      });
      body(() => {
        if (!current) throw new Error("test database not open yet");
        return current;
      });
    });
  }
}

/**
 * Fills `folder` with the migrated PGlite template, for tests that start another process on a
 * PGlite folder (npm start, npm run job): it opens a migrated folder in about a second, where an
 * empty one costs it several seconds of initdb and migrations.
 */
export async function migratedPgliteFolder(folder: string): Promise<string> {
  const database = await connect(`pglite:${folder}`, {
    pgliteTemplate: new Blob([readFileSync(inject("pgliteTemplate"))]),
  });
  await database.close();
  return folder;
}
