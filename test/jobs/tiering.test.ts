import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { connect, type Database, rows } from "../../db/client";
import { memories, memoryAccess } from "../../db/schema";
import { makeTieringHandler, tieringConfig } from "../../functions/jobs/tiering";
import {
  DEFAULT_TIERING_THRESHOLDS,
  runTiering,
  type Tier,
  type TieringThresholds,
  type TierMoves,
} from "../../functions/memory/tiering";
import { describeEachDatabase } from "../support/databases";
import { seedWorkspace } from "../support/http";
import { lambdaContext, scheduledEvent } from "./lambda-events";

const NOW = new Date("2025-06-01T12:00:00.000Z");
const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);

interface Crafted {
  name: string;
  tier: Tier;
  expected: Tier;
  createdAt: Date;
  lastAccessedAt?: Date;
  accessCount?: number;
  importance?: number;
  pinnedTier?: Tier;
}

/** One memory per rule of the tiering header, with the tier each must end in. */
const crafted: Crafted[] = [
  { name: "new, never read", tier: "cold", expected: "hot", createdAt: daysAgo(1) },
  { name: "exactly at the hot edge", tier: "warm", expected: "hot", createdAt: daysAgo(7) },
  {
    name: "old but read 3 days ago",
    tier: "cold",
    expected: "hot",
    createdAt: daysAgo(90),
    lastAccessedAt: daysAgo(3),
  },
  { name: "20 days untouched", tier: "hot", expected: "warm", createdAt: daysAgo(20) },
  { name: "just past the hot edge", tier: "hot", expected: "warm", createdAt: daysAgo(7.01) },
  { name: "read 25 days ago", tier: "cold", expected: "warm", createdAt: daysAgo(200), lastAccessedAt: daysAgo(25) },
  { name: "60 days untouched", tier: "hot", expected: "cold", createdAt: daysAgo(60), importance: 0.5 },
  { name: "warm, 31 days untouched", tier: "warm", expected: "cold", createdAt: daysAgo(31) },
  { name: "important and old", tier: "hot", expected: "warm", createdAt: daysAgo(400), importance: 0.9 },
  { name: "importance exactly 0.8", tier: "cold", expected: "warm", createdAt: daysAgo(400), importance: 0.8 },
  { name: "importance 0.79", tier: "warm", expected: "cold", createdAt: daysAgo(400), importance: 0.79 },
  {
    name: "used often, read 20 days ago",
    tier: "warm",
    expected: "hot",
    createdAt: daysAgo(300),
    lastAccessedAt: daysAgo(20),
    accessCount: 50,
  },
  {
    name: "used often long ago",
    tier: "hot",
    expected: "cold",
    createdAt: daysAgo(300),
    lastAccessedAt: daysAgo(100),
    accessCount: 50,
  },
  {
    name: "9 accesses, read 20 days ago",
    tier: "hot",
    expected: "warm",
    createdAt: daysAgo(300),
    lastAccessedAt: daysAgo(20),
    accessCount: 9,
  },
  { name: "pinned hot, ancient", tier: "cold", expected: "hot", createdAt: daysAgo(1000), pinnedTier: "hot" },
  { name: "pinned cold, brand new", tier: "hot", expected: "cold", createdAt: daysAgo(0), pinnedTier: "cold" },
  { name: "pinned warm, already warm", tier: "warm", expected: "warm", createdAt: daysAgo(0), pinnedTier: "warm" },
  { name: "already cold", tier: "cold", expected: "cold", createdAt: daysAgo(45) },
];

async function insertCrafted(database: Database, workspaceId: string, list: Crafted[]) {
  return database.withTenant({ workspaceId }, async (tx) => {
    const stored = await tx
      .insert(memories)
      .values(
        list.map((memory) => ({
          workspaceId,
          content: memory.name,
          contentHash: `${memory.name}`,
          tier: memory.tier,
          pinnedTier: memory.pinnedTier ?? null,
          importance: memory.importance ?? 0.5,
          createdAt: memory.createdAt,
        })),
      )
      .returning({ id: memories.id, content: memories.content });
    // Access statistics live in memory_access; a memory never accessed has no row there.
    const accessed = list.flatMap((memory, i) =>
      memory.accessCount !== undefined || memory.lastAccessedAt !== undefined
        ? [
            {
              memoryId: stored[i]!.id,
              workspaceId,
              accessCount: memory.accessCount ?? 0,
              lastAccessedAt: memory.lastAccessedAt ?? null,
            },
          ]
        : [],
    );
    if (accessed.length > 0) await tx.insert(memoryAccess).values(accessed);
    return stored;
  });
}

async function tiersOf(database: Database, workspaceId: string): Promise<Record<string, Tier>> {
  const found = await database.withTenant({ workspaceId }, (tx) =>
    rows<{ content: string; tier: Tier }>(
      tx,
      sql`select content, tier from memories where workspace_id = ${workspaceId}::uuid`,
    ),
  );
  return Object.fromEntries(found.map((row) => [row.content, row.tier]));
}

/** The moves the crafted list implies, counted independently of the SQL. */
function expectedMoves(list: Crafted[]): TierMoves {
  const moves: TierMoves = {};
  for (const memory of list) {
    if (memory.tier === memory.expected) continue;
    const key = `${memory.tier}_to_${memory.expected}` as const;
    moves[key] = (moves[key] ?? 0) + 1;
  }
  return moves;
}

/** The tiering rules, written again in TypeScript, for generated memories. */
function referenceTier(
  row: {
    created_at: Date;
    last_accessed_at: Date | null;
    access_count: number;
    importance: number;
    pinned_tier: Tier | null;
  },
  now: Date,
  t: TieringThresholds,
): Tier {
  if (row.pinned_tier) return row.pinned_tier;
  const touched = Math.max(row.created_at.getTime(), row.last_accessed_at?.getTime() ?? -Infinity);
  const age = now.getTime() - touched;
  if (age <= t.hotDays * DAY) return "hot";
  if (row.access_count >= t.hotAccessCount && age <= t.warmDays * DAY) return "hot";
  if (age <= t.warmDays * DAY) return "warm";
  if (Math.fround(row.importance) >= Math.fround(t.keepWarmImportance)) return "warm";
  return "cold";
}

/** `count` memories with spread-out ages, access counts, importance and pins, in one statement. */
async function seedGenerated(database: Database, workspaceId: string, count: number, salt: string) {
  await database.withMaintenance((tx) =>
    tx.execute(sql`
      with generated as (
        select i, ${workspaceId}::uuid as workspace_id, 'generated ' || i as content, md5(${salt} || i) as content_hash,
               (array['hot', 'warm', 'cold'])[1 + i % 3]::memory_tier as tier,
               case when i % 23 = 0 then (array['hot', 'warm', 'cold'])[1 + (i / 23) % 3]::memory_tier end as pinned_tier,
               (i * 7) % 25 as access_count,
               case when i % 4 = 0 then null else ${NOW.toISOString()}::timestamptz - ((i * 13) % 90) * interval '1 day' - (i % 5) * interval '1 hour' end as last_accessed_at,
               ((i * 37) % 101) / 100.0 as importance,
               ${NOW.toISOString()}::timestamptz - ((i * 11) % 120) * interval '1 day' as created_at
        from generate_series(1, ${count}) as i),
      stored as (
        insert into memories (workspace_id, content, content_hash, tier, pinned_tier, importance, created_at)
        select workspace_id, content, content_hash, tier, pinned_tier, importance, created_at from generated
        returning id, content_hash)
      -- Every third memory was never accessed: it has no memory_access row.
      insert into memory_access (memory_id, workspace_id, access_count, last_accessed_at)
      select s.id, g.workspace_id, g.access_count, g.last_accessed_at
      from generated g join stored s on s.content_hash = g.content_hash
      where g.i % 3 <> 0`),
  );
}

async function generatedRows(database: Database) {
  const found = await database.withMaintenance((tx) =>
    rows<{
      id: string;
      tier: Tier;
      created_at: string | Date;
      last_accessed_at: string | Date | null;
      access_count: number;
      importance: number;
      pinned_tier: Tier | null;
    }>(
      tx,
      sql`select m.id, m.tier, m.created_at, a.last_accessed_at, coalesce(a.access_count, 0) as access_count,
                 m.importance, m.pinned_tier
          from memories m left join memory_access a on a.memory_id = m.id
          where m.content like 'generated %'`,
    ),
  );
  return found.map((row) => ({
    ...row,
    created_at: new Date(row.created_at),
    last_accessed_at: row.last_accessed_at === null ? null : new Date(row.last_accessed_at),
    importance: Number(row.importance),
  }));
}

describeEachDatabase("memory tiering job", (db) => {
  it("puts crafted memories in their tiers, reports the moves per workspace, and a second run moves nothing", async () => {
    const { database } = db();
    const a = await seedWorkspace(database, "tiering a");
    const b = await seedWorkspace(database, "tiering b");
    await insertCrafted(database, a.workspaceId, crafted);
    const bList = crafted.slice(0, 5);
    await insertCrafted(database, b.workspaceId, bList);

    const first = await runTiering(database, { now: NOW, batchSize: 4 });
    expect(first.complete).toBe(true);
    const tiersA = await tiersOf(database, a.workspaceId);
    for (const memory of crafted) expect([memory.name, tiersA[memory.name]]).toEqual([memory.name, memory.expected]);
    const tiersB = await tiersOf(database, b.workspaceId);
    for (const memory of bList) expect(tiersB[memory.name]).toBe(memory.expected);

    expect(first.moved[a.workspaceId]).toEqual(expectedMoves(crafted));
    expect(first.moved[b.workspaceId]).toEqual(expectedMoves(bList));
    const movedCount = crafted.concat(bList).filter((m) => m.tier !== m.expected).length;
    expect(first.total).toBe(movedCount);
    // Bounded batches: never more than batchSize rows per statement.
    expect(first.batches).toBeGreaterThanOrEqual(Math.ceil(movedCount / 4));

    const second = await runTiering(database, { now: NOW, batchSize: 4 });
    expect(second).toMatchObject({ total: 0, moved: {}, batches: 0, complete: true });
    expect(await tiersOf(database, a.workspaceId)).toEqual(tiersA);
  });

  it("follows configured thresholds", async () => {
    const { database } = db();
    const ws = await seedWorkspace(database, "tiering thresholds");
    await insertCrafted(database, ws.workspaceId, [
      { name: "ten days old", tier: "warm", expected: "hot", createdAt: daysAgo(10) },
      { name: "fifty days old", tier: "cold", expected: "warm", createdAt: daysAgo(50) },
    ]);
    const config = tieringConfig({
      CAIRN_TIER_HOT_DAYS: "14",
      CAIRN_TIER_WARM_DAYS: "60",
      CAIRN_TIER_BATCH_SIZE: "50",
    });
    expect(config).toEqual({ thresholds: { ...DEFAULT_TIERING_THRESHOLDS, hotDays: 14, warmDays: 60 }, batchSize: 50 });
    const result = await runTiering(database, { now: NOW, ...config });
    expect(result.moved[ws.workspaceId]).toEqual({ warm_to_hot: 1, cold_to_warm: 1 });
    expect(await tiersOf(database, ws.workspaceId)).toEqual({ "ten days old": "hot", "fifty days old": "warm" });
    expect(() => tieringConfig({ CAIRN_TIER_HOT_DAYS: "40" })).toThrow(/hot days ≤ warm days/);
    expect(() => tieringConfig({ CAIRN_TIER_WARM_DAYS: "soon" })).toThrow(/CAIRN_TIER_WARM_DAYS/);
  });

  it("runs as a Lambda handler for an EventBridge scheduled event and returns its summary", async () => {
    const { database } = db();
    const ws = await seedWorkspace(database, "tiering handler");
    await insertCrafted(database, ws.workspaceId, [
      { name: "handler: stale", tier: "hot", expected: "cold", createdAt: daysAgo(90) },
    ]);
    const handler = makeTieringHandler(async () => database, { now: NOW });
    const summary = await handler(scheduledEvent("TieringSchedule", NOW), lambdaContext(300_000));
    expect(summary).toMatchObject({ job: "tiering", trigger: "schedule", ok: true, complete: true });
    expect(summary.moved[ws.workspaceId]).toEqual({ hot_to_cold: 1 });
    expect(typeof summary.durationMs).toBe("number");
  });

  it("moves tiers with HOT updates only: no index of memories covers the tier", async () => {
    const { database } = db();
    // Any index reading `tier` (a key column, an expression or a partial index's predicate)
    // would make every tier move a full update, inserting into every index, HNSW included.
    const covering = await rows<{ index: string }>(
      database.db,
      sql`select i.indexrelid::regclass::text as index
          from pg_index i
          where i.indrelid = 'memories'::regclass
            and ((select attnum from pg_attribute where attrelid = 'memories'::regclass and attname = 'tier') = any(i.indkey)
                 or pg_get_expr(i.indexprs, i.indrelid) like '%tier%'
                 or pg_get_expr(i.indpred, i.indrelid) like '%tier%')`,
    );
    expect(covering).toEqual([]);

    const ws = await seedWorkspace(database, "tiering hot");
    const list: Crafted[] = Array.from({ length: 12 }, (_, i) => ({
      name: `hot update ${i}`,
      tier: "hot",
      expected: "cold",
      createdAt: daysAgo(90),
    }));
    await insertCrafted(database, ws.workspaceId, list);
    // The pass runs inside one maintenance transaction (every batch in it), so the backend's own
    // statistics counters, read before and after, count its updates and how many were HOT.
    const counts = await database.withMaintenance(async (tx) => {
      const read = () =>
        rows<{ updated: string | number; hot: string | number }>(
          tx,
          sql`select pg_stat_get_xact_tuples_updated('memories'::regclass) as updated,
                     pg_stat_get_xact_tuples_hot_updated('memories'::regclass) as hot`,
        ).then(([row]) => ({ updated: Number(row!.updated), hot: Number(row!.hot) }));
      const before = await read();
      const oneTransaction = { withMaintenance: (fn: (t: typeof tx) => unknown) => fn(tx) } as unknown as Database;
      const result = await runTiering(oneTransaction, { now: NOW, batchSize: 5 });
      const after = await read();
      return { moved: result.total, updated: after.updated - before.updated, hot: after.hot - before.hot };
    });
    expect(counts).toEqual({ moved: 12, updated: 12, hot: 12 });
  });

  it("gives the same tiers from two concurrent runs as from one, moving each memory once", async () => {
    const { database, target, url } = db();
    const a = await seedWorkspace(database, "tiering concurrent a");
    const b = await seedWorkspace(database, "tiering concurrent b");
    const perWorkspace = target === "postgres" ? 3000 : 600;
    await seedGenerated(database, a.workspaceId, perWorkspace, "a");
    await seedGenerated(database, b.workspaceId, perWorkspace, "b");
    const before = await generatedRows(database);
    const expected = new Map(before.map((row) => [row.id, referenceTier(row, NOW, DEFAULT_TIERING_THRESHOLDS)]));
    const needMoving = before.filter((row) => row.tier !== expected.get(row.id)).length;
    expect(needMoving).toBeGreaterThan(perWorkspace / 2);

    // On Postgres the second run has its own pool (separate connections, real lock contention);
    // PGlite has one connection, so there the runs interleave batch by batch.
    const other = target === "postgres" ? await connect(url, { driver: "neon" }) : database;
    try {
      const [one, two] = await Promise.all([
        runTiering(database, { now: NOW, batchSize: 97 }),
        runTiering(other, { now: NOW, batchSize: 89 }),
      ]);
      expect(one.complete && two.complete).toBe(true);
      expect(one.total + two.total).toBe(needMoving);
      const after = await generatedRows(database);
      const wrong = after.filter((row) => row.tier !== expected.get(row.id));
      expect(wrong).toEqual([]);
      // And a single run afterwards agrees: nothing left to move.
      expect((await runTiering(database, { now: NOW })).total).toBe(0);
    } finally {
      if (other !== database) await other.close();
    }
  });
});
