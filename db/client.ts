/**
 * Connections and transactions on every driver. Longer than most files: the transaction state
 * (after-commit hooks, statement batches: `together`, `commitWith`) and the runners that honour
 * it (the pooled drivers' pipelined one, PGlite's Drizzle transactions) belong together.
 */
import { createHash } from "node:crypto";
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

/** What a transaction a `Database` opened carries besides Drizzle's handle. */
interface TransactionState {
  hooks: CommitHook[];
  send: SendStatements;
  /** A savepoint (`tx.transaction(fn)` inside it): `commitWith` cannot end it. */
  savepoint: boolean;
}

const transactions = new WeakMap<object, TransactionState>();

/**
 * Gives the savepoints opened in `tx` (`tx.transaction(fn)`) a state of their own: the
 * `afterCommit` hooks queued in one join the enclosing transaction's when it is released and are
 * dropped when it rolls back; `together` works in it; `commitWith` refuses it. Returns the undo
 * (a pooled connection's handle serves its next transaction too).
 */
function trackSavepoints(tx: Tx, state: TransactionState): () => void {
  const begin = tx.transaction;
  const transaction = async (fn: (inner: Tx) => Promise<unknown>) => {
    const nested: TransactionState = { hooks: [], send: state.send, savepoint: true };
    const result = await begin.call(tx, async (inner) => {
      transactions.set(inner, nested);
      const untrack = trackSavepoints(inner as Tx, nested);
      try {
        return await fn(inner as Tx);
      } finally {
        untrack();
        transactions.delete(inner);
      }
    });
    state.hooks.push(...nested.hooks);
    return result;
  };
  Object.assign(tx, { transaction });
  return () => {
    Object.assign(tx, { transaction: begin });
  };
}

/**
 * Queues `hook` to run after `tx` commits (and never if it rolls back). Hooks run in order,
 * awaited before the transaction's caller gets its result; a hook that throws is logged, not
 * rethrown (the change it follows is committed). `tx` must be the transaction a `Database`
 * opened (`withTenant`, `withSettings`, `withMaintenance`) or a savepoint inside it, whose hooks
 * join the transaction's when the savepoint is released and are dropped when it rolls back.
 */
export function afterCommit(tx: Tx, hook: CommitHook): void {
  const state = transactions.get(tx);
  if (!state) throw new Error("afterCommit needs a transaction opened by Database.withTenant/withMaintenance");
  state.hooks.push(hook);
}

/**
 * One statement not yet sent, for `together` and `commitWith`: a Drizzle query that is not
 * awaited (a select, an insert…, which run when awaited), or `deferred(() => …)` around a
 * function that issues exactly one query (`rows(tx, sql\`…\`)`). Nothing runs before the batch does.
 */
export type Statement<T = unknown> = PromiseLike<T>;

/** A batch: named statements (or lists of them, sent in order); `undefined` ones are left out. */
export type Statements = Record<string, Statement | readonly Statement[] | undefined>;

/** What each statement of a batch returned, under its name (a list gives a list). */
export type Outcomes<S extends Statements> = { [K in keyof S]: Outcome<S[K]> };

/** Distributes over `undefined`: a statement that may be left out gives its result or undefined. */
type Outcome<V> = V extends readonly Statement[]
  ? Array<Awaited<V[number]>>
  : V extends Statement
    ? Awaited<V>
    : undefined;

/** How a runner sends a batch of statements (in order); with `commit`, COMMIT goes with them. */
type SendStatements = (statements: Statement[], commit: boolean) => Promise<unknown[]>;

/** Wraps `run`, which issues exactly one query, as a `Statement`: it runs when awaited (or sent by `together`). */
export function deferred<T>(run: () => PromiseLike<T>): Statement<T> {
  // biome-ignore lint/suspicious/noThenProperty: a lazy thenable, as Drizzle's queries are: awaiting it runs it
  return { then: (onFulfilled, onRejected) => run().then(onFulfilled, onRejected) };
}

/**
 * Raised by any statement of a transaction after `commitWith` committed it: the code that
 * owns the transaction said it was done, so a later statement is a bug in that code.
 */
export class TransactionEnded extends Error {
  constructor() {
    super("this transaction was already committed by commitWith; a statement after it cannot run");
  }
}

/**
 * Runs independent statements in one round trip on node-postgres and Neon (one pipeline; the
 * transaction's opening statements, BEGIN and the set-up, ride along if not sent yet) and
 * returns each one's result under its name. The server runs them in order; the first failure
 * is thrown (the later ones are skipped) and leaves the transaction to roll back. On PGlite,
 * and in a savepoint or any transaction a `Database` did not open, they run one by one.
 */
export function together<S extends Statements>(tx: Tx, statements: S): Promise<Outcomes<S>> {
  return sendBatch(tx, statements, false);
}

/**
 * `together`, with COMMIT in the same round trip: for the code that owns the transaction (a
 * route's `inTenant`) and has nothing left to do in it. A failure of any statement rolls it all
 * back (the server skips the COMMIT after an error; the runner then sends ROLLBACK); after a
 * commit, any further statement of the transaction throws `TransactionEnded`; `afterCommit`
 * hooks run once it returns, as for any transaction. On PGlite the statements run one by one
 * and the transaction commits when its function returns (later statements throw there too).
 */
export function commitWith<S extends Statements>(tx: Tx, statements: S): Promise<Outcomes<S>> {
  if (transactions.get(tx)?.savepoint !== false) {
    throw new Error("commitWith needs the transaction a Database opened (withTenant/withMaintenance), not a savepoint");
  }
  return sendBatch(tx, statements, true);
}

async function sendBatch<S extends Statements>(tx: Tx, statements: S, commit: boolean): Promise<Outcomes<S>> {
  const flat: Statement[] = [];
  for (const value of Object.values(statements)) {
    if (value === undefined) continue;
    if (isStatementList(value)) flat.push(...value);
    else flat.push(value);
  }
  const sendTo = transactions.get(tx)?.send ?? oneByOne;
  const results = flat.length === 0 && !commit ? [] : await sendTo(flat, commit);
  const outcomes: Record<string, unknown> = {};
  let next = 0;
  for (const [name, value] of Object.entries(statements)) {
    if (value === undefined) outcomes[name] = undefined;
    else if (isStatementList(value)) {
      outcomes[name] = results.slice(next, next + value.length);
      next += value.length;
    } else outcomes[name] = results[next++];
  }
  return outcomes as Outcomes<S>;
}

const isStatementList = (value: Statement | readonly Statement[]): value is readonly Statement[] =>
  Array.isArray(value);

async function oneByOne(statements: Statement[]): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const statement of statements) results.push(await statement);
  return results;
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
 * thus costs two round trips, that one and COMMIT; `together` sends several statements in one,
 * and `commitWith` adds the COMMIT to it.
 */
class PooledClient {
  private opening: PipelinedStatement[] = [];
  /** While `send` collects a batch: the queries its statements issued, not sent yet. */
  private batch?: { queued: QueuedQuery[]; wake: () => void };
  /** Whether BEGIN was sent (so the transaction needs a COMMIT or ROLLBACK). */
  begun = false;
  /** Whether `commitWith` committed the transaction (so it needs nothing more, and takes nothing more). */
  ended = false;
  readonly db: Db;

  constructor(
    readonly client: PoolClient,
    private readonly makeDb: (client: PooledClient) => Db,
  ) {
    this.db = this.withSavepoints(makeDb(this), 1);
  }

  /**
   * Drizzle's `transaction()` on this connection's handle, which is already inside the
   * transaction the runner opened: a savepoint, as Drizzle's own nested transactions are (left
   * alone, Drizzle would send BEGIN and COMMIT on the connection, ending the outer transaction
   * early, or take the connection for a pool). The nested handle is a handle of its own, so
   * `afterCommit` and `commitWith` refuse it, as they refuse PGlite's savepoints.
   */
  private withSavepoints(db: Db, depth: number): Db {
    let nested: Db | undefined;
    const name = sql.identifier(`cairn_savepoint_${depth}`);
    const transaction = async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
      nested ??= this.withSavepoints(this.makeDb(this), depth + 1);
      await db.execute(sql`savepoint ${name}`);
      let result: T;
      try {
        result = await fn(nested as unknown as Tx);
      } catch (error) {
        await db.execute(sql`rollback to savepoint ${name}`);
        throw error;
      }
      await db.execute(sql`release savepoint ${name}`);
      return result;
    };
    return Object.assign(db, { transaction }) as Db;
  }

  open(statements: PipelinedStatement[]) {
    this.opening = statements;
    this.begun = false;
    this.ended = false;
  }

  async query(sent: unknown, values?: unknown[]): Promise<unknown> {
    if (this.ended) throw new TransactionEnded();
    const config = named(sent);
    if (this.batch) {
      const { promise, resolve, reject } = withResolvers<unknown>();
      this.batch.queued.push({ statement: { config, values }, resolve, reject });
      this.batch.wake();
      return promise;
    }
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

  /**
   * `together` and `commitWith` on this connection: each statement is started in turn and the
   * query it issues is held (Drizzle maps its rows once the batch's answer arrives); then the
   * opening statements still pending, the held queries and, with `commit`, COMMIT go out as one
   * pipeline. A statement that fails before issuing its query fails the batch unsent.
   */
  async send(statements: Statement[], commit: boolean): Promise<unknown[]> {
    if (this.ended) throw new TransactionEnded();
    if (this.batch) throw new Error("together/commitWith: one batch at a time in a transaction (await the other)");
    const batch: { queued: QueuedQuery[]; wake: () => void } = { queued: [], wake: () => {} };
    this.batch = batch;
    const settled: Array<Promise<Settled>> = [];
    let unsent: { error: unknown } | undefined;
    try {
      for (const statement of statements) {
        const before = batch.queued.length;
        const { promise: issued, resolve: wake } = withResolvers<void>();
        batch.wake = wake;
        const outcome: Promise<Settled> = Promise.resolve()
          .then(() => statement)
          .then(
            (value) => ({ value, failed: false }),
            (error: unknown) => ({ error, failed: true }),
          );
        settled.push(outcome);
        // Either its query was issued (and is held) or it settled without one.
        void outcome.then(() => wake());
        await issued;
        if (batch.queued.length === before) {
          const early = await outcome;
          if (early.failed) {
            unsent = { error: early.error };
            break;
          }
        }
      }
    } finally {
      this.batch = undefined;
    }
    const { queued } = batch;
    if (unsent) {
      for (const held of queued) held.reject(new SkippedStatement(unsent.error));
      await Promise.all(settled);
      throw unsent.error;
    }

    const opening = this.opening;
    const pipeline = [
      ...opening,
      ...queued.map((held) => held.statement),
      ...(commit ? [{ config: { text: "commit" } }] : []),
    ];
    let outcomes: Array<{ error?: unknown; result?: unknown }> = [];
    if (queued.length > 0 || commit) {
      this.opening = [];
      this.begun = true;
      try {
        outcomes = await runPipeline(this.client, pipeline);
      } catch (error) {
        for (const held of queued) held.reject(error);
        await Promise.all(settled);
        throw error;
      }
    }
    const failure = (outcome?: { error?: unknown }) =>
      outcome?.error && !(outcome.error instanceof SkippedStatement) ? outcome.error : undefined;
    const openingError = outcomes.slice(0, opening.length).map(failure).find(Boolean);
    queued.forEach((held, index) => {
      const outcome = outcomes[opening.length + index];
      if (outcome?.error) held.reject(outcome.error);
      else held.resolve(outcome?.result);
    });
    const commitOutcome = commit ? outcomes.at(-1) : undefined;
    if (commit && commitOutcome && !commitOutcome.error) this.ended = true;

    const results = await Promise.all(settled);
    if (openingError) throw openingError;
    const failed = results.find((result) => result.failed && !isSkipped(result.error));
    if (failed) throw failed.error;
    const commitError = failure(commitOutcome);
    if (commitError) throw commitError;
    return results.map((result) => result.value);
  }
}

interface Settled {
  value?: unknown;
  error?: unknown;
  failed: boolean;
}

/** `Promise.withResolvers` (Node 22), for Node 20. */
function withResolvers<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

interface QueuedQuery {
  statement: PipelinedStatement;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/** Whether `error` (or what Drizzle wrapped) is a statement the server skipped after a failure. */
function isSkipped(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof SkippedStatement) return true;
  }
  return false;
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
    const pooled = connection;
    const query = dialect.sqlToQuery(setup);
    pooled.open([{ config: { text: "begin" } }, { config: { text: query.sql }, values: query.params }]);
    let broken: Error | undefined;
    try {
      const result = await fn(pooled.db as unknown as Tx, (statements, commit) => pooled.send(statements, commit));
      if (!pooled.ended) {
        await pooled.flush();
        await client.query("commit");
      }
      return result;
    } catch (error) {
      if (pooled.begun && !pooled.ended) {
        await client.query("rollback").catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw error;
    } finally {
      // The connection serves other transactions next: nothing of this one may reach them.
      pooled.ended = false;
      client.release(broken);
    }
  };
}

/**
 * Runs a transaction: `fn` gets Drizzle's handle and how to send a batch of its statements.
 * It commits when `fn` returns (unless a committing batch did) and rolls back when it throws.
 */
type TransactionRunner = <T>(setup: SQL, fn: (tx: Tx, send: SendStatements) => Promise<T>) => Promise<T>;

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

/**
 * Drizzle's own transactions: BEGIN, the set-up, the statements and COMMIT, one by one (PGlite).
 * A committing batch runs its statements and then closes the transaction's handle to further
 * statements; Drizzle sends the COMMIT when `fn` returns.
 */
function drizzleTransactions(db: Db): TransactionRunner {
  return (setup, fn) =>
    db.transaction(async (tx) => {
      await tx.execute(setup);
      return fn(tx as Tx, async (statements, commit) => {
        const results = await oneByOne(statements);
        if (commit) refuseFurtherStatements(tx as Tx);
        return results;
      });
    });
}

/** Makes every later statement on `tx` throw `TransactionEnded` (PGlite: its transaction's query methods). */
function refuseFurtherStatements(tx: Tx): void {
  const client = (tx._.session as unknown as { client: Record<string, unknown> }).client;
  const refuse = async () => {
    throw new TransactionEnded();
  };
  for (const method of ["query", "sql", "exec"]) client[method] = refuse;
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
  runner: TransactionRunner = drizzleTransactions(db),
): Database {
  const run = async <T>(setup: SQL, fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const hooks: CommitHook[] = [];
    const result = await runner(setup, async (tx, send) => {
      const state: TransactionState = { hooks, send, savepoint: false };
      transactions.set(tx, state);
      const untrack = trackSavepoints(tx, state);
      try {
        return await fn(tx);
      } finally {
        // A pooled connection's Drizzle instance serves its next transaction too.
        untrack();
        transactions.delete(tx);
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

/** How `prepared` marks a statement's text (a comment: the server ignores it). */
const PREPARED_MARK = "/* cairn:prepared */ ";

/**
 * `query`, sent as a named (prepared) statement on node-postgres and Neon: each connection parses
 * it once and PostgreSQL may then reuse a cached plan instead of planning it on every call (a
 * statement whose planning dominates its cost, such as the claim). The name is derived from the
 * statement's text, so two shapes never share a name; values stay parameters. On PGlite it runs
 * as any statement. For statements with a bounded number of shapes only: each shape is kept in
 * every connection's session until the connection closes.
 */
export const prepared = (query: SQL): SQL => sql`${sql.raw(PREPARED_MARK)}${query}`;

/** A driver query config whose text `prepared` marked, with the name derived from that text. */
function named(config: unknown): unknown {
  if (typeof config !== "object" || config === null) return config;
  const { text, name } = config as { text?: unknown; name?: unknown };
  if (name !== undefined || typeof text !== "string" || !text.startsWith(PREPARED_MARK)) return config;
  return { ...config, name: `cairn_${createHash("sha256").update(text).digest("hex").slice(0, 32)}` };
}

/** Rows of a raw statement, whichever driver ran it (they all expose `rows`). */
export async function rows<T>(tx: Tx | Db, query: SQL): Promise<T[]> {
  const result = (await tx.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
