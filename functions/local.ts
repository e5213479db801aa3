/**
 * `npm start`: every context on one port over the embedded PGlite (or DATABASE_URL),
 * migrations applied at start, a first workspace and admin key created on first start,
 * and the scheduled jobs run by a local scheduler.
 */
import { serve } from "@hono/node-server";
import { sql } from "drizzle-orm";
import { CONSOLE_PATH, consoleHandler } from "../console/serve";
import { connect, type Database, rows } from "../db/client";
import { connectAsLoginRoles } from "../db/login-roles";
import { migrate } from "../db/migrate";
import { describeFailure, UserError } from "../db/user-error";
import { startLocalScheduler } from "./jobs/local-scheduler";
import { baseUrl, ensureCanListen, hostPort, isLoopbackHost, listenAddress, listenError } from "./local-address";
import { embeddingProvider } from "./memory/provider";
import { bootstrapWorkspace } from "./platform/workspaces";
import { allRouters } from "./routers";
import { createApp } from "./shared/app";
import { hashApiKey } from "./shared/auth";
import { logger } from "./shared/logger";
import { allowPrivateAddressesByDefault } from "./shared/outbound";

/** First start (no workspace yet), or a CAIRN_API_KEY the database doesn't know: make a workspace for it. */
async function ensureFirstWorkspace(database: Database): Promise<void> {
  const presetKey = process.env.CAIRN_API_KEY || undefined;
  const [state] = await database.withMaintenance((tx) =>
    rows<{ workspaces: number; key_known: boolean }>(
      tx,
      sql`select (select count(*)::int from workspaces) as workspaces,
                 exists(select 1 from api_keys where key_hash = ${presetKey ? hashApiKey(presetKey) : ""}) as key_known`,
    ),
  );
  if (presetKey ? state?.key_known : (state?.workspaces ?? 0) > 0) return;
  const created = await bootstrapWorkspace(database, {
    name: process.env.CAIRN_WORKSPACE_NAME ?? "default",
    email: process.env.CAIRN_ADMIN_EMAIL ?? "admin@localhost",
    presetKey,
  });
  logger.info("created the first workspace and its admin API key", {
    workspaceId: created.workspace.id,
    apiKeyPrefix: created.apiKey.prefix,
  });
  if (!presetKey) {
    // Shown once, like every key: the database keeps only its hash.
    process.stdout.write(
      `\n  Workspace "${created.workspace.name}" (${created.workspace.id})\n  Admin API key (shown once): ${created.apiKey.key}\n` +
        `  Try: curl -H "Authorization: Bearer ${created.apiKey.key}" ${plannedUrl()}/v1/workspaces\n` +
        `  Console: ${plannedUrl()}${CONSOLE_PATH}/ (sign in with the key above)\n\n`,
    );
  }
}

/**
 * Migrates and bootstraps as DATABASE_URL's user (the owner), then, on a server database, serves
 * requests and runs jobs as login roles of cairn_app and cairn_maintenance alone
 * (db/login-roles.ts): the owner's connection is closed before the first request. PGlite has one
 * role, and every transaction sets cairn_app or cairn_maintenance itself.
 */
async function openDatabases(url: string | undefined): Promise<{ app: Database; jobs: Database }> {
  const owner = await connect(url, { log: logger });
  try {
    const { applied } = await migrate(owner);
    // The first workspace is made by the owner's connection, as cairn_app inside its transaction.
    await ensureFirstWorkspace(owner);
    if (owner.kind === "pglite") {
      logger.info("database ready", { driver: owner.kind, migrationsApplied: applied });
      return { app: owner, jobs: owner };
    }
    if (!url) throw new UserError(`CAIRN_DB_DRIVER=${owner.kind} needs DATABASE_URL (the owner, who migrates)`);
    const { app, jobs, logins } = await connectAsLoginRoles(url, owner, { log: logger });
    await owner.close();
    logger.info("database ready", {
      driver: owner.kind,
      migrationsApplied: applied,
      roles: { requests: logins.app.role, jobs: logins.jobs.role },
    });
    return { app, jobs };
  } catch (error) {
    await owner.close().catch(() => {});
    throw error;
  }
}

/** The URL to show before the server listens: the address it is about to bind. */
const plannedUrl = () => {
  const { host, port } = listenAddress();
  return baseUrl({ address: host, port });
};

async function main() {
  const address = listenAddress();
  // A webhook receiver on this machine is the usual thing to try locally (deployments refuse it);
  // a server that others can reach (HOST) must not lead them into this machine's network.
  if (isLoopbackHost(address.host)) allowPrivateAddressesByDefault();
  // Before any work: a taken port is one sentence, with nothing started that needs stopping.
  await ensureCanListen(address);
  // The production Neon driver against a local Postgres, through `npm run db:proxy`.
  if (process.env.CAIRN_NEON_PROXY)
    (await import("../db/neon-local")).configureNeonProxyFromEnv(process.env.CAIRN_NEON_PROXY);
  const { app: database, jobs } = await openDatabases(process.env.DATABASE_URL);
  const scheduler = startLocalScheduler(jobs);

  const app = createApp({
    database: async () => database,
    routers: Object.values(allRouters),
    health: () => ({ embedding: embeddingProvider().describe() }),
  });
  // The console (console/), built in memory on its first request; Lambdas never bundle it.
  const consoleAssets = consoleHandler({
    onBuildError: (error) => logger.error("the console could not be built", { error }),
  });
  app.on(
    ["GET", "HEAD"],
    [CONSOLE_PATH, `${CONSOLE_PATH}/*`],
    async (c) => (await consoleAssets(c.req.raw)) ?? c.notFound(),
  );
  const server = serve({ fetch: app.fetch, port: address.port, hostname: address.host }, (info) => {
    logger.info("cairn listening", {
      address: hostPort(info),
      url: baseUrl(info),
      docs: `${baseUrl(info)}/docs`,
      console: `${baseUrl(info)}${CONSOLE_PATH}/`,
    });
  });

  const shutdown = async (signal: string, code = 0) => {
    logger.info("shutting down", { signal });
    server.close();
    await scheduler.stop();
    await database.close();
    if (jobs !== database) await jobs.close();
    process.exit(code);
  };
  // The port taken after all, between the check and now: the same sentence, and a clean stop.
  server.once("error", (error) => {
    process.stderr.write(`${describeFailure(listenError(error, address))}\n`);
    void shutdown("listen failed", 1);
  });
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((error) => {
  if (error instanceof UserError) process.stderr.write(`${error.message}\n`);
  else logger.error("cairn failed to start", { error });
  process.exit(1);
});
