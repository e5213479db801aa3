import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../db/migrate";
import { startWsProxy } from "../../scripts/ws-proxy";
import { adminQuery, databaseUrl } from "./postgres-admin";

declare module "vitest" {
  export interface ProvidedContext {
    wsProxyPort: number;
    templateDatabase: string;
  }
}

/**
 * With TEST_DATABASE_URL set: a migrated template database (each test file copies it,
 * which is much faster than migrating) and the WebSocket proxy the Neon driver uses.
 */
export default async function setup(project: TestProject) {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const template = `cairn_template_${process.pid}`;
  await adminQuery(url, `drop database if exists ${template} with (force)`);
  await adminQuery(url, `create database ${template}`);
  await migrateDatabase(databaseUrl(url, template));
  const proxy = await startWsProxy({ port: 0 });
  project.provide("wsProxyPort", proxy.port);
  project.provide("templateDatabase", template);
  return async () => {
    await proxy.close();
    await adminQuery(url, `drop database if exists ${template} with (force)`);
  };
}
