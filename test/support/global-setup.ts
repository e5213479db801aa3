import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import type { TestProject } from "vitest/node";
import { connect } from "../../db/client";
import { migrate, migrateDatabase } from "../../db/migrate";
import { startWsProxy } from "../../scripts/ws-proxy";
import { adminQuery, databaseUrl } from "./postgres-admin";

declare module "vitest" {
  export interface ProvidedContext {
    wsProxyPort: number;
    templateDatabase: string;
    /** A dump of a migrated PGlite data folder (see pgliteTemplate below). */
    pgliteTemplate: string;
  }
}

/**
 * A migrated PGlite database, dumped once: each test file starts its PGlite from it, which is
 * seconds faster per file than creating an empty cluster and migrating it (the same thing the
 * Postgres template database does for PostgreSQL).
 */
async function pgliteTemplate(): Promise<{ path: string; remove: () => void }> {
  const database = await connect("pglite:memory");
  try {
    await migrate(database);
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const dump = await client.dumpDataDir("none");
    const dir = mkdtempSync(join(tmpdir(), "cairn-test-template-"));
    const path = join(dir, "pglite.tar");
    writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
    return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } finally {
    await database.close();
  }
}

/**
 * The PGlite template, and with TEST_DATABASE_URL set: a migrated template database (each
 * test file copies it, which is much faster than migrating) and the WebSocket proxy the Neon
 * driver uses.
 */
export default async function setup(project: TestProject) {
  const pglite = await pgliteTemplate();
  project.provide("pgliteTemplate", pglite.path);
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return pglite.remove;
  const template = `cairn_template_${process.pid}`;
  await adminQuery(url, `drop database if exists ${template} with (force)`);
  await adminQuery(url, `create database ${template}`);
  await migrateDatabase(databaseUrl(url, template));
  const proxy = await startWsProxy({ port: 0 });
  project.provide("wsProxyPort", proxy.port);
  project.provide("templateDatabase", template);
  return async () => {
    pglite.remove();
    await proxy.close();
    await adminQuery(url, `drop database if exists ${template} with (force)`);
  };
}
