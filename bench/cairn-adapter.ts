import { spawn } from "node:child_process";
import pg from "pg";
import { connect, type Database } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { configureNeonForProxy } from "../db/neon-local.js";
import { contentHash, insertMemories, type MemoryInput } from "../functions/memory/memories.js";
import type { Reranker } from "../functions/memory/rerank.js";
import {
  explainSearch,
  type MemorySearchInput,
  searchMemories,
  searchSettings,
  type VectorStrategy,
} from "../functions/memory/search.js";
import { bootstrapWorkspace } from "../functions/platform/workspaces.js";
import type { Actor } from "../functions/shared/actor.js";
import { claimWork, completeWorkItems } from "../functions/work-orders/claims.js";
import { putQueueLimit } from "../functions/work-orders/controls/limits.js";
import { createWorkOrder, MAX_ITEMS_PER_ORDER } from "../functions/work-orders/work-orders.js";
import type { WsProxy } from "../scripts/ws-proxy.js";
import type { ClaimTarget } from "./lib/claim-harness.js";
import { MemoryGenerator } from "./lib/memories.js";
import { now } from "./lib/stats.js";
import { binaryArray, ClusteredVectors, vectorBinary } from "./lib/vectors.js";

/**
 * The seam between the benchmark and Cairn's own code. Everything Cairn-side goes through
 * Cairn's domain functions on the production driver: `@neondatabase/serverless` through the
 * project's WebSocket-to-TCP proxy (`startWsProxy` + `configureNeonForProxy`), as the issue asks.
 *
 * Fairness rules:
 * - set-up (database, migrations, workspaces, keys, seeding) happens outside the timed calls;
 * - Cairn gets its own database (`<bench db>_app`, dropped and re-created every run, migrated
 *   with `migrateDatabase`), so it never shares tables with the baselines;
 * - an owner connection (node-postgres, the connecting superuser) is used only for set-up
 *   and checks (dropping/re-creating the HNSW index around the bulk load, counting rows).
 */

/** Size of the search corpus (sections that need it share one load per run). */
export const corpusSize = (quick: boolean) => (quick ? { rows: 20_000, queries: 50 } : { rows: 100_000, queries: 100 });

export interface Workspace {
  workspaceId: string;
  userId: string;
  /** Plaintext admin key (for the HTTP app). */
  key: string;
  actor: Actor;
}

/** The search corpus in Cairn's `memories` table, with what exact search needs to know. */
export interface Corpus {
  main: Workspace;
  small: Workspace;
  /** Rows actually stored (inputs deduplicated by content hash are left out). */
  rows: number;
  smallRows: number;
  /** The metadata filter keeping ~1% of the main workspace, and how many rows it keeps. */
  rareFilter: { source: string };
  /** The same rows as `rareFilter`, as a subject filter (their `user_id`). */
  rareSubject: { userId: string };
  rareRows: number;
  dimensions: number;
  /** Row i: vector at [i·dim, (i+1)·dim), Cairn id ids[i], workspace 0 main / 1 small, metadata source index. */
  data: Float32Array;
  ids: string[];
  workspace: Uint8Array;
  source: Uint8Array;
  /** Query vectors and matching text queries (two words of the query's cluster). */
  queries: Float32Array[];
  queryTexts: string[];
  load: { seconds: number; rowsPerSecond: number; indexBuildSeconds: number; indexSize: string; path: string };
}

export const RARE_SOURCE_INDEX = 7;

export interface SearchCall {
  workspaceId: string;
  input: MemorySearchInput;
  /** Overrides of the transaction settings `searchSettings(input)` gives (e.g. `hnsw.ef_search`). */
  settings?: Record<string, string>;
  strategy?: VectorStrategy;
  /** A reranker for hybrid searches (default: none, whatever the environment says). */
  reranker?: Reranker;
}

export class CairnBench {
  readonly wired = true;
  private corpusCache?: Corpus;
  private workspaceCount = 0;

  private constructor(
    readonly url: string,
    readonly database: Database,
    readonly owner: pg.Pool,
    private readonly proxy: WsProxy,
  ) {}

  /** Re-creates the Cairn bench database, migrates it, starts the proxy and connects the Neon driver. */
  static async create(benchUrl: string): Promise<CairnBench> {
    const url = new URL(benchUrl);
    url.pathname = `${url.pathname}_app`;
    const name = decodeURIComponent(url.pathname.slice(1));
    const admin = new URL(benchUrl);
    admin.pathname = "/postgres";
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      const quoted = `"${name.replace(/"/g, '""')}"`;
      await client.query(`drop database if exists ${quoted} with (force)`);
      await client.query(`create database ${quoted}`);
    } finally {
      await client.end();
    }
    const t0 = now();
    await migrateDatabase(url.toString());
    console.log(`  Cairn: database ${name} created and migrated in ${((now() - t0) / 1000).toFixed(1)} s`);
    const proxy = await startProxyProcess();
    configureNeonForProxy(proxy.port);
    const database = await connect(url.toString(), { driver: "neon", max: 4 });
    const owner = new pg.Pool({ connectionString: url.toString(), max: 2, application_name: "cairn-bench-owner" });
    return new CairnBench(url.toString(), database, owner, proxy);
  }

  /** A Neon-driver Database of its own (e.g. one connection per claim worker). */
  connectNeon(max: number): Promise<Database> {
    return connect(this.url, { driver: "neon", max });
  }

  /** A Database of its own on `driver` (node-postgres over TCP, or Neon through the proxy process). */
  connectDriver(driver: "pg" | "neon", max: number): Promise<Database> {
    return connect(this.url, { driver, max });
  }

  async workspace(label: string): Promise<Workspace> {
    const n = ++this.workspaceCount;
    const made = await bootstrapWorkspace(this.database, {
      name: `bench ${label}`,
      email: `bench-${n}-${label}@bench.invalid`,
    });
    const actor: Actor = {
      workspaceId: made.workspace.id,
      userId: made.userId,
      apiKeyId: made.apiKey.id,
      scopes: made.apiKey.scopes,
      identityVerified: true,
      role: "OWNER",
    };
    return { workspaceId: made.workspace.id, userId: made.userId, key: made.apiKey.key, actor };
  }

  async teardown(): Promise<void> {
    await this.database.close().catch(() => {});
    await this.owner.end().catch(() => {});
    await this.proxy.close().catch(() => {});
  }

  // ---------------------------------------------------------------- 1. claims

  /**
   * `items` QUEUED work items in a fresh workspace, created with `createWorkOrder` (orders of
   * `itemsPerOrder`, at most MAX_ITEMS_PER_ORDER), and a ClaimTarget whose claim is
   * `claimWork` with `commit: true` (one round trip, as `POST /v1/work-items/claim`) and whose completion is `completeWorkItems` (one batch completion per claim,
   * as `POST /v1/work-items:complete` does), each inside `database.withTenant` on its own pool of
   * `workers` connections on `driver` (default the Neon driver through the proxy process). With
   * `concurrencyKeys`, item n carries the key `tenant:<n mod keys>` and a prefix limit gives each
   * key `maxInFlight` (queue controls in use).
   */
  async claimTarget(
    items: number,
    workers: number,
    options: {
      itemsPerOrder?: number;
      name?: string;
      database?: Database;
      driver?: "pg" | "neon";
      concurrencyKeys?: { keys: number; maxInFlight: number };
    } = {},
  ): Promise<ClaimTarget> {
    const perOrder = Math.min(options.itemsPerOrder ?? MAX_ITEMS_PER_ORDER, MAX_ITEMS_PER_ORDER);
    const ws = await this.workspace("claims");
    const tenant = { workspaceId: ws.workspaceId, userId: ws.userId };
    const keyed = options.concurrencyKeys;
    if (keyed) {
      await this.database.withTenant(tenant, (tx) =>
        putQueueLimit(tx, ws.actor, { keyPrefix: "tenant:", maxInFlight: keyed.maxInFlight }),
      );
    }
    const orders: number[] = [];
    for (let made = 0; made < items; made += perOrder) orders.push(Math.min(perOrder, items - made));
    // Set-up only: orders are created two at a time.
    let next = 0;
    const makeOrders = async () => {
      while (next < orders.length) {
        const o = next++;
        const count = orders[o];
        await this.database.withTenant(tenant, (tx) =>
          createWorkOrder(tx, ws.actor, {
            title: `bench order ${o}`,
            items: Array.from({ length: count }, (_, i) => ({
              type: "bench",
              payload: { o, i },
              ...(keyed ? { concurrencyKey: `tenant:${(o * perOrder + i) % keyed.keys}` } : {}),
            })),
          }),
        );
      }
    };
    await Promise.all([makeOrders(), makeOrders()]);
    await this.owner.query("vacuum analyze work_items");

    const database = options.database ?? (await this.connectDriver(options.driver ?? "neon", workers));
    const ownsDatabase = !options.database;
    const fences = new Map<string, { attemptId: string; fencingToken: string }>();
    const owner = this.owner;
    return {
      name: options.name ?? "Cairn",
      async claim(worker, limit) {
        // As POST /v1/work-items/claim does: the route owns the transaction, so BEGIN, the set-up,
        // the claim statement and COMMIT go in one round trip (`commit: true`).
        const { items: claimed } = await database.withTenant(tenant, (tx) =>
          claimWork(tx, ws.actor, { workerId: `bench-${worker}`, limit }, { commit: true }),
        );
        for (const c of claimed) fences.set(c.id, { attemptId: c.attemptId, fencingToken: c.fencingToken });
        return claimed.map((c) => c.id);
      },
      async complete(_worker, ids) {
        // One batch completion for what one claim returned (POST /v1/work-items:complete).
        const items = ids.map((id) => {
          const fence = fences.get(id);
          if (!fence) throw new Error(`completing ${id}, which this target did not claim`);
          fences.delete(id);
          return { id, ...fence };
        });
        const outcomes = await database.withTenant(tenant, (tx) => completeWorkItems(tx, ws.actor, { items }));
        const refused = outcomes.find((outcome) => outcome.outcome !== "completed");
        if (refused) throw new Error(`completion of ${refused.id} refused: ${refused.outcome}`);
      },
      async verify() {
        const { rows } = await owner.query<{ done: number; not_done: number; reclaimed: number; attempts: number }>(
          `select count(*) filter (where status = 'COMPLETED')::int as done,
                  count(*) filter (where status <> 'COMPLETED')::int as not_done,
                  count(*) filter (where attempt_count > 1)::int as reclaimed,
                  (select count(*)::int from attempts a where a.workspace_id = $1) as attempts
           from work_items where workspace_id = $1`,
          [ws.workspaceId],
        );
        const r = rows[0];
        // Every item claimed exactly once: as many attempts as items, none with a second attempt.
        return {
          done: r.done,
          notDone: r.not_done,
          extra: { itemsWithMoreThanOneAttempt: r.reclaimed, attempts: r.attempts },
        };
      },
      async close() {
        if (ownsDatabase) await database.close();
      },
    };
  }

  /** A workspace with `items` QUEUED items (orders of up to 5,000), for the API section. */
  async seedQueue(items: number): Promise<Workspace> {
    const ws = await this.workspace("queue");
    for (let made = 0; made < items; made += MAX_ITEMS_PER_ORDER) {
      const count = Math.min(MAX_ITEMS_PER_ORDER, items - made);
      await this.database.withTenant({ workspaceId: ws.workspaceId, userId: ws.userId }, (tx) =>
        createWorkOrder(tx, ws.actor, {
          title: "bench queue",
          items: Array.from({ length: count }, (_, i) => ({ type: "bench", payload: { i } })),
        }),
      );
    }
    return ws;
  }

  // ---------------------------------------------------------------- 2./3./6./7. memories

  /** Stores memories with `insertMemories` (the batch endpoint's statement), one call per slice. */
  async insertBatch(ws: Workspace, inputs: MemoryInput[]): Promise<string[]> {
    const stored = await this.database.withTenant({ workspaceId: ws.workspaceId, userId: ws.userId }, (tx) =>
      insertMemories(tx, { workspaceId: ws.workspaceId, userId: ws.userId }, inputs),
    );
    return stored.map((m) => (m.deduplicated ? "" : m.id));
  }

  /** One search through `searchMemories` in a tenant transaction set up with `searchSettings`. */
  async search(call: SearchCall): Promise<string[]> {
    const settings = { ...searchSettings(call.input), ...call.settings };
    const actor = { workspaceId: call.workspaceId };
    const res = await this.database.withTenant(
      actor,
      (tx) => searchMemories(tx, actor, call.input, { strategy: call.strategy, reranker: call.reranker ?? null }),
      settings,
    );
    return res.results.map((r) => r.id);
  }

  /** The plan of the statement a search runs (not executed): which scan served it. */
  async plan(call: SearchCall): Promise<string> {
    const settings = { ...searchSettings(call.input), ...call.settings };
    const actor = { workspaceId: call.workspaceId };
    const text = await this.database.withTenant(
      actor,
      (tx) => explainSearch(tx, actor, call.input, { strategy: call.strategy }),
      settings,
    );
    return text
      .split("\n")
      .map((l) => l.trim().replace(/^->\s*/, ""))
      .filter((l) => /Scan/.test(l) && /memories/.test(l))
      .join(" / ");
  }

  /**
   * The search corpus, loaded once per run: `rows` memories in one workspace plus 1% in a
   * second, seeded clustered 768-dim vectors with text from the clusters' vocabularies and
   * `metadata.source` in s0..s99 (so `{"source":"s7"}` keeps ~1%).
   *
   * Load path (set-up, documented in bench/README.md): the migration's HNSW index
   * `memories_embedding_768_hnsw` is dropped, the rows go in as the table owner with one
   * `INSERT … SELECT FROM unnest(…, $vectors::vector[])` per 1,000 rows (vectors in binary
   * form; content hashes from Cairn's own `contentHash`, so dedup holds), then the index is
   * re-created from its own definition (`pg_get_indexdef`) — building the graph once is far
   * faster than inserting 100k rows into it. `insertMemories` (~500 rows/s here without the
   * index, a few minutes for 100k) is what the ingest section measures.
   */
  async corpus(rows: number, queryCount: number): Promise<Corpus> {
    if (this.corpusCache) return this.corpusCache;
    const main = await this.workspace("memory-main");
    const small = await this.workspace("memory-small");
    const vectors = new ClusteredVectors();
    const text = new MemoryGenerator(vectors, 7);
    const dim = vectors.options.dimensions;
    const smallTarget = Math.round(rows * 0.01);
    const total = rows + smallTarget;
    const data = new Float32Array(total * dim);
    const ids: string[] = new Array(total);
    const workspace = new Uint8Array(total);
    const source = new Uint8Array(total);

    const { rows: defRows } = await this.owner.query<{ def: string }>(
      "select pg_get_indexdef('memories_embedding_768_hnsw'::regclass) as def",
    );
    const indexDef = defRows[0].def;
    await this.owner.query("drop index memories_embedding_768_hnsw");

    const { rows: oidRows } = await this.owner.query<{ oid: number }>("select 'vector'::regtype::oid::int as oid");
    const vectorOid = oidRows[0].oid;
    const t0 = now();
    const batchSize = 1000;
    type Batch = {
      rows: number[];
      ids: string[];
      ws: string[];
      content: string[];
      hash: string[];
      meta: string[];
      vec: Buffer[];
    };
    const empty = (): Batch => ({ rows: [], ids: [], ws: [], content: [], hash: [], meta: [], vec: [] });
    let batch = empty();
    const inFlight: Promise<void>[] = [];
    // user_id "u<source>": the subject filter `{"userId":"u7"}` keeps the same ~1% as `{"source":"s7"}`.
    const insertSql = `insert into memories (id, workspace_id, content, content_hash, metadata, user_id, embedding, embedding_dims)
      select id, ws, content, hash, meta, 'u' || substr(meta->>'source', 2), vec, 768
      from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::vector[])
        as x(id, ws, content, hash, meta, vec)
      on conflict (workspace_id, content_hash, user_id, agent_id, session_id, project_id) where valid_to is null do nothing
      returning id`;
    const flush = async () => {
      const b = batch;
      batch = empty();
      if (b.rows.length === 0) return;
      const job = this.owner
        .query<{ id: string }>(insertSql, [b.ids, b.ws, b.content, b.hash, b.meta, binaryArray(b.vec, vectorOid)])
        .then((res) => {
          const stored = new Set(res.rows.map((r) => r.id));
          b.rows.forEach((row, i) => {
            ids[row] = stored.has(b.ids[i]) ? b.ids[i] : "";
          });
        });
      inFlight.push(job);
      // Two statements in flight: the next batch is generated while the server inserts.
      if (inFlight.length >= 2) await inFlight.shift();
    };
    let smallLeft = smallTarget;
    for (let row = 0; row < total; row++) {
      const isSmall = smallLeft > 0 && vectors.random() < smallLeft / (total - row);
      if (isSmall) smallLeft--;
      const m = text.next(isSmall ? small.workspaceId : main.workspaceId);
      data.set(m.embedding, row * dim);
      workspace[row] = isSmall ? 1 : 0;
      source[row] = Number(String(m.metadata.source).slice(1));
      batch.rows.push(row);
      batch.ids.push(m.id);
      batch.ws.push(m.workspaceId);
      batch.content.push(m.content);
      batch.hash.push(contentHash(m.content));
      batch.meta.push(JSON.stringify(m.metadata));
      batch.vec.push(vectorBinary(m.embedding));
      if (batch.rows.length >= batchSize) await flush();
    }
    await flush();
    await Promise.all(inFlight);
    const loadSeconds = (now() - t0) / 1000;
    console.log(`  Cairn corpus: ${total} memories loaded (set-up path, no HNSW index) in ${loadSeconds.toFixed(1)} s`);

    const client = await this.owner.connect();
    let indexBuildSeconds: number;
    let indexSize: string;
    try {
      await client.query("set maintenance_work_mem = '1GB'");
      await client.query("set max_parallel_maintenance_workers = 1"); // leader + 1 worker = the 2 cores
      const tb = now();
      await client.query(indexDef);
      indexBuildSeconds = (now() - tb) / 1000;
      await client.query("vacuum analyze memories");
      const { rows: sizeRows } = await client.query<{ size: string }>(
        "select pg_size_pretty(pg_relation_size('memories_embedding_768_hnsw')) as size",
      );
      indexSize = sizeRows[0].size;
    } finally {
      client.release();
    }
    console.log(
      `  Cairn corpus: ${indexDef.replace(/^CREATE INDEX (\S+) .*$/, "$1")} built in ${indexBuildSeconds.toFixed(1)} s (${indexSize})`,
    );

    const queries: Float32Array[] = [];
    const queryTexts: string[] = [];
    for (let q = 0; q < queryCount; q++) {
      const { vector, cluster } = vectors.next();
      queries.push(vector);
      queryTexts.push(text.queryText(cluster));
    }
    let storedRows = 0;
    let smallRows = 0;
    let rareRows = 0;
    for (let row = 0; row < total; row++) {
      if (!ids[row]) continue; // deduplicated input: not stored
      if (workspace[row] === 1) smallRows++;
      else {
        storedRows++;
        if (source[row] === RARE_SOURCE_INDEX) rareRows++;
      }
    }
    this.corpusCache = {
      main,
      small,
      rows: storedRows,
      smallRows,
      rareFilter: { source: `s${RARE_SOURCE_INDEX}` },
      rareSubject: { userId: `u${RARE_SOURCE_INDEX}` },
      rareRows,
      dimensions: dim,
      data,
      ids,
      workspace,
      source,
      queries,
      queryTexts,
      load: {
        seconds: loadSeconds,
        rowsPerSecond: total / loadSeconds,
        indexBuildSeconds,
        indexSize,
        path: "set-up: one INSERT … SELECT FROM unnest (binary vectors) per 1,000 rows as the table owner, HNSW index dropped, then re-created from pg_get_indexdef",
      },
    };
    return this.corpusCache;
  }

  get loadedCorpus(): Corpus | undefined {
    return this.corpusCache;
  }
}

export async function createCairnAdapter(benchUrl: string): Promise<CairnBench> {
  return CairnBench.create(benchUrl);
}

export type CairnAdapter = CairnBench;

/**
 * The WebSocket-to-TCP proxy in a process of its own (scripts/ws-proxy.ts on an ephemeral port),
 * so its CPU is not the benchmark's: the Neon driver path is measured as it runs in production,
 * where the proxy is Neon's, not the client's.
 */
async function startProxyProcess(): Promise<WsProxy> {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/ws-proxy.ts"], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ws:\/\/[^:]+:(\d+)\//.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`the ws proxy process exited (${code}) before listening`)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
