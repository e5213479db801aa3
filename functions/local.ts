/**
 * `npm start`: every context on one port over the embedded PGlite (or DATABASE_URL),
 * migrations applied at start, a first workspace and admin key created on first start,
 * and the scheduled jobs run by a local scheduler.
 */
import { serve } from "@hono/node-server";
import { sql } from "drizzle-orm";
import { CONSOLE_PATH, consoleHandler } from "../console/serve";
import { connect, type Database, rows } from "../db/client";
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
  const database = await connect(process.env.DATABASE_URL, { log: logger });
  const { applied } = await migrate(database);
  logger.info("database ready", { driver: database.kind, migrationsApplied: applied });
  await ensureFirstWorkspace(database);
  const scheduler = startLocalScheduler(database);

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
