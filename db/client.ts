import type { EventEmitter } from "node:events";
import type { ExtractTablesWithRelations, SQL, Table } from "drizzle-orm";
import { getTableColumns, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { PgDialect } from "drizzle-orm/pg-core";
import { type PipelineClient, type PipelinedStatement, runPipeline, SkippedStatement } from "./pipeline";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type DriverKind = "pglite" | "neon" | "pg";

/** Who a transaction runs for: the workspace sets RLS, the user is the acting person. */
export interface Tenant {
  workspaceId: string;
  userId?: string | null;
  /**
   * The API key the request presented, checked again by the set-up statement itself
   * (`cairn_authenticate`, migration 0009): a revoked key or changed grants fail the
   * transaction before its first statement runs, in the same round trip.
   */
  key?: PresentedKey;
}

/** A key's SHA-256 and the fingerprint of the grants it was authenticated with. */
export interface PresentedKey {
  hash: string;
  fingerprint: string;
}

export interface Database {
  readonly kind: DriverKind;
  readonly db: Db;
  /**
   * A transaction as `cairn_app` with the tenant set: row-level security applies. `settings`
   * are extra transaction-local settings (e.g. `hnsw.ef_search` for a search) applied by the
   * same set-up statement, so they cost no extra round trip.
   */
  withTenant<T>(tenant: Tenant, fn: (tx: Tx) => Promise<T>, settings?: Record<string, string>): Promise<T>;
  /** A transaction as `cairn_app` with extra session settings (e.g. `app.api_key_hash`). */
  withSettings<T>(settings: Record<string, string>, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** A transaction as `cairn_maintenance`: jobs that span workspaces (see migration 0002). */
  withMaintenance<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * What the database layer reports and cannot act on itself (a pooled connection that died,
 * an after-commit hook that failed). The app passes its structured logger; db/ depends on
 * nothing in functions/.
 */
export interface DatabaseLog {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const silent: DatabaseLog = { warn: () => {}, error: () => {} };

export interface ConnectOptions {
  /** Force a driver; by default it follows the URL (see `driverFor`). */
  driver?: DriverKind;
  /** Pool size for server drivers. */
  max?: number;
  log?: DatabaseLog;
  /** PGlite: start from this dump of a data folder (`dumpDataDir()`), e.g. the tests' migrated template. */
  pgliteTemplate?: Blob;
}

/** Work to do once a transaction has committed (a webhook, a queue nudge); it gets the database to open new ones. */
export type CommitHook = (database: Database) => Promise<unknown> | unknown;

const commitHooks = new WeakMap<object, CommitHook[]>();

/**
 * Queues `hook` to run after `tx` commits (and never if it rolls back). Hooks run in order,
 * awaited before the transaction's caller gets its result; a hook that throws is logged, not
 * rethrown (the change it follows is committed). `tx` must be the transaction a `Database`
 * opened (`withTenant`, `withSettings`, `withMaintenance`), not a savepoint inside it.
 */
export function afterCommit(tx: Tx, hook: CommitHook): void {
  const hooks = commitHooks.get(tx);
  if (!hooks) throw new Error("afterCommit needs a transaction opened by Database.withTenant/withMaintenance");
  hooks.push(hook);
}

export const DEFAULT_PGLITE_DIR = ".cairn/pgdata";

/**
 * Which driver a URL needs: nothing or `pglite:<dir>` (`pglite:memory` for in-memory) is
 * the embedded PGlite; a Neon host uses the Neon serverless driver (WebSockets, interactive
 * transactions); any other postgres:// URL uses node-postgres. `CAIRN_DB_DRIVER` overrides.
 */
export function driverFor(url: string | undefined, override = process.env.CAIRN_DB_DRIVER): DriverKind {
  if (override === "pglite" || override === "neon" || override === "pg") return override;
  if (!url || url.startsWith("pglite:")) return "pglite";
  const host = new URL(url).hostname;
  return host.endsWith(".neon.tech") || host.endsWith(".neon.build") ? "neon" : "pg";
}

export async function connect(url = process.env.DATABASE_URL, options: ConnectOptions = {}): Promise<Database> {
  const kind = options.driver ?? driverFor(url);
  const log = options.log ?? silent;
  if (kind === "pglite") return connectPglite(url, log, options.pgliteTemplate);
  if (kind === "neon") {
    const { Pool } = await import("@neondatabase/serverless");
    const { drizzle } = await import("drizzle-orm/neon-serverless");
    const pool = new Pool({ connectionString: url, max: options.max ?? 10 });
    listenForLostConnections(pool, log);
    const onConnection = (client: PooledClient) => drizzle({ client: client as never, schema }) as unknown as Db;
    return wrap(
      "neon",
      drizzle({ client: pool, schema }) as unknown as Db,
      () => pool.end(),
      log,
      pipelined(pool as unknown as ClientPool, onConnection),
    );
  }
  const { default: pg } = await import("pg");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  listenForLostConnections(pool, log);
  const onConnection = (client: PooledClient) => drizzle({ client: client as never, schema }) as unknown as Db;
  return wrap(
    "pg",
    drizzle({ client: pool, schema }) as unknown as Db,
    () => pool.end(),
    log,
    pipelined(pool as unknown as ClientPool, onConnection),
  );
}

/** A node-postgres or Neon pool, as far as transactions need it. */
interface ClientPool {
  connect(): Promise<PoolClient>;
}

interface PoolClient extends PipelineClient {
  query(config: unknown, values?: unknown): Promise<unknown>;
  release(destroy?: Error | boolean): void;
}

/**
 * A pooled connection as Drizzle's client for one transaction at a time. The transaction's
 * opening statements (BEGIN and the tenant set-up) are not sent on their own: they travel in one
 * round trip with the transaction's first statement (db/pipeline.ts). A one-statement transaction
 * thus costs two round trips, that one and COMMIT.
 */
class PooledClient {
  private opening: PipelinedStatement[] = [];
  /** Whether BEGIN was sent (so the transaction needs a COMMIT or ROLLBACK). */
  begun = false;
  readonly db: Db;

  constructor(
    readonly client: PoolClient,
    makeDb: (client: PooledClient) => Db,
  ) {
    this.db = makeDb(this);
  }

  open(statements: PipelinedStatement[]) {
    this.opening = statements;
    this.begun = false;
  }

  async query(config: unknown, values?: unknown[]): Promise<unknown> {
    if (this.opening.length === 0) return this.client.query(config, values);
    const outcomes = await this.sendOpening([{ config, values }]);
    return outcomes.at(-1)?.result;
  }

  /** Sends the opening statements if no statement carried them (the set-up must still run). */
  async flush(): Promise<void> {
    if (this.opening.length > 0) await this.sendOpening([]);
  }

  private async sendOpening(statements: PipelinedStatement[]) {
    const batch = [...this.opening, ...statements];
    this.opening = [];
    this.begun = true;
    const outcomes = await runPipeline(this.client, batch);
    const failed = outcomes.find((outcome) => outcome.error && !(outcome.error instanceof SkippedStatement));
    if (failed) throw failed.error;
    return outcomes;
  }
}

/** Transactions over a pool whose opening statements ride with the first statement. */
function pipelined(pool: ClientPool, makeDb: (client: PooledClient) => Db): TransactionRunner {
  const dialect = new PgDialect();
  const clients = new WeakMap<PoolClient, PooledClient>();
  return async (setup, fn) => {
    const client = await pool.connect();
    let connection = clients.get(client);
    if (!connection) {
      connection = new PooledClient(client, makeDb);
      clients.set(client, connection);
    }
    const query = dialect.sqlToQuery(setup);
    connection.open([{ config: { text: "begin" } }, { config: { text: query.sql }, values: query.params }]);
    let broken: Error | undefined;
    try {
      const result = await fn(connection.db as unknown as Tx);
      await connection.flush();
      await client.query("commit");
      return result;
    } catch (error) {
      if (connection.begun) {
        await client.query("rollback").catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw error;
    } finally {
      client.release(broken);
    }
  };
}

type TransactionRunner = <T>(setup: SQL, fn: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * A connection that dies (a server restart or failover, a Neon compute scaling to zero, an
 * operator's pg_terminate_backend) emits "error" on its client; unheard, that event crashes the
 * process. While the client is idle in the pool, the pool listens and emits its own "error";
 * while a transaction holds it, nobody does — so every client the pool creates gets a listener.
 * The queries it was running fail (the request answers 503, `fromDatabaseError`), the pool drops
 * the client when it is released, and the next query opens a new connection.
 */
function listenForLostConnections(pool: EventEmitter, log: DatabaseLog): void {
  const lost = (error: Error) =>
    log.warn("a database connection was lost", { error: error.message, code: (error as { code?: unknown }).code });
  pool.on("error", lost);
  pool.on("connect", (client: EventEmitter) => {
    // A dying connection may report twice (the server's message, then the closed socket): log once.
    let reported = false;
    client.on("error", (error: Error) => {
      if (!reported) lost(error);
      reported = true;
    });
  });
}

async function connectPglite(url: string | undefined, log: DatabaseLog, template?: Blob): Promise<Database> {
  // Imported lazily: PGlite (WASM) is for the embedded default and tests, never a Lambda bundle.
  const { PGlite } = await import("@electric-sql/pglite");
  const { vector } = await import("@electric-sql/pglite-pgvector");
  const { drizzle } = await import("drizzle-orm/pglite");
  const target = url?.startsWith("pglite:") ? url.slice("pglite:".length) : DEFAULT_PGLITE_DIR;
  const dataDir = target === "memory" || target === "" ? undefined : target;
  if (dataDir) {
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dataDir, { recursive: true });
  }
  // A second process on the same folder would corrupt it: one at a time (db/pglite-lock.ts).
  const lock = dataDir ? (await import("./pglite-lock")).lockPgliteFolder(dataDir) : undefined;
  const client = await PGlite.create({ dataDir, extensions: { vector }, loadDataDir: template }).catch(
    (error: unknown) => {
      lock?.release();
      throw error;
    },
  );
  return wrap(
    "pglite",
    drizzle({ client, schema }) as unknown as Db,
    () => client.close().finally(() => lock?.release()),
    log,
  );
}

/** Drizzle's own transactions: BEGIN, the set-up, the statements and COMMIT, one by one (PGlite). */
function drizzleTransactions(db: Db): TransactionRunner {
  return (setup, fn) =>
    db.transaction(async (tx) => {
      await tx.execute(setup);
      return fn(tx as Tx);
    });
}

/**
 * The set-up of a request's transaction: the presented key checked again (revoked, expired or
 * with changed grants, it raises and the transaction stops here), its workspace and person as
 * the tenant, and the role, in one statement.
 */
function authenticatedSetup(key: PresentedKey, extra: SQL[]): SQL {
  return sql`select set_config('app.workspace_id', a.workspace_id::text, true),
                    set_config('app.user_id', coalesce(a.user_id::text, ''), true),
                    set_config('role', 'cairn_app', true)${TENANT_DEFAULTS}${sql.join(extra)}
             from cairn_authenticate(${key.hash}, ${key.fingerprint}) a`;
}

/**
 * Settings every tenant transaction gets from its set-up statement. `jit = off`: request-path
 * statements run in milliseconds, but the planner's cost of some grows with the table (the claim
 * statement's dependency check is costed once per queued item), and past `jit_above_cost`
 * PostgreSQL spent 0.4–0.8 s compiling each claim (bench/results/redesign-before-after.md).
 */
const TENANT_DEFAULTS = sql`, set_config('jit', 'off', true)`;

function wrap(
  kind: DriverKind,
  db: Db,
  end: () => Promise<void>,
  log: DatabaseLog,
  transactions: TransactionRunner = drizzleTransactions(db),
): Database {
  const run = async <T>(setup: SQL, fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const hooks: CommitHook[] = [];
    const result = await transactions(setup, async (tx) => {
      commitHooks.set(tx, hooks);
      try {
        return await fn(tx);
      } finally {
        // A pooled connection's Drizzle instance serves its next transaction too.
        commitHooks.delete(tx);
      }
    });
    for (const hook of hooks) {
      try {
        await hook(database);
      } catch (error) {
        log.error("an after-commit hook failed; the transaction itself committed", { error });
      }
    }
    return result;
  };
  const database: Database = {
    kind,
    db,
    // One round trip sets both the tenant and the role (ARCHITECTURE.md, request flow).
    withTenant: (tenant, fn, settings = {}) => {
      const extra = Object.entries(settings).map(([name, value]) => sql`, set_config(${name}, ${value}, true)`);
      if (tenant.key) return run(authenticatedSetup(tenant.key, extra), fn);
      return run(
        sql`select set_config('app.workspace_id', ${tenant.workspaceId}, true),
                   set_config('app.user_id', ${tenant.userId ?? ""}, true),
                   set_config('role', 'cairn_app', true)${TENANT_DEFAULTS}${sql.join(extra)}`,
        fn,
      );
    },
    withSettings: (settings, fn) => {
      const assignments = Object.entries(settings).map(([name, value]) => sql`set_config(${name}, ${value}, true)`);
      assignments.push(sql`set_config('role', 'cairn_app', true)`);
      return run(sql`select ${sql.join(assignments, sql`, `)}`, fn);
    },
    withMaintenance: (fn) => run(sql`select set_config('role', 'cairn_maintenance', true)`, fn),
    close: end,
  };
  return database;
}

/**
 * A JSON value (an array of ids, a set of records) as one bound `jsonb` parameter: the same
 * on every driver, and one parameter however many elements it holds.
 */
export const jsonParam = (value: unknown): SQL => sql`${JSON.stringify(value)}::jsonb`;

/**
 * A timestamptz as text in the one format the API gives every timestamp — ISO 8601 in UTC with
 * milliseconds and `Z`, what JSON makes of a Date — for timestamps SQL puts into a jsonb value
 * (`to_jsonb(timestamptz)` would write `…:19.97+00:00`).
 */
export const isoTimestamp = (value: SQL): SQL<string> =>
  sql<string>`to_char(${value} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * An enum or uuid array column of a raw row: some drivers parse it, others return the
 * Postgres text form `{A,B}` (elements of these columns never contain commas or quotes).
 */
export function pgArray<T extends string = string>(value: T[] | string | null): T[] {
  if (Array.isArray(value)) return value;
  if (!value || value === "{}") return [];
  // The text form of a T[] column holds T values.
  return value
    .slice(1, -1)
    .split(",")
    .map((s) => s.replace(/^"|"$/g, "")) as T[];
}

/**
 * A raw row (database column names) as the table's typed record: each column's own driver
 * mapping applies (timestamps to Date, jsonb parsed, bigint), as Drizzle's query builder does.
 * Columns absent from the row are absent from the result.
 */
export function mapRow<T extends Table>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  const mapped: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    if (!(column.name in raw)) continue;
    const value = raw[column.name];
    mapped[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return mapped as T["$inferSelect"];
}

/**
 * The row a statement that always returns one gave back (an INSERT … RETURNING, an UPDATE of a
 * row this transaction holds). Its absence is a bug, not a client error.
 */
export function one<T>(found: T[]): T {
  const [row] = found;
  if (row === undefined) throw new Error("expected the statement to return a row; it returned none");
  return row;
}

/** Rows of a raw statement, whichever driver ran it (they all expose `rows`). */
export async function rows<T>(tx: Tx | Db, query: SQL): Promise<T[]> {
  const result = (await tx.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
