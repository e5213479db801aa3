/**
 * `together` and `commitWith` (db/client.ts): several statements of a transaction in one round
 * trip, and COMMIT sent with the last ones. On PGlite (Drizzle's transactions, one by one) and
 * on PostgreSQL through the Neon driver and node-postgres (one pipeline each).
 */
import { randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  afterCommit,
  commitWith,
  connect,
  type Database,
  deferred,
  rows,
  TransactionEnded,
  together,
} from "../../db/client";
import { workOrders } from "../../db/schema";
import { openTestDatabase, type TestDatabase, targets } from "../support/databases";
import { seedWorkspace } from "../support/http";

/** The error or any error it wraps (Drizzle wraps what the driver raised in `cause`). */
function chain(error: unknown): unknown[] {
  const found: unknown[] = [];
  for (let e: unknown = error; e && found.length < 5; e = (e as { cause?: unknown }).cause) found.push(e);
  return found;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

const variants: Array<{ name: string; open: () => Promise<TestDatabase> }> = [
  { name: "pglite", open: () => openTestDatabase("pglite") },
];
if (targets.includes("postgres")) {
  variants.push({ name: "postgres] (neon", open: () => openTestDatabase("postgres") });
  variants.push({
    name: "postgres] (pg",
    open: async () => {
      // The same fresh database through node-postgres: the other pooled driver.
      const neon = await openTestDatabase("postgres");
      const database = await connect(neon.url, { driver: "pg", max: 4 });
      return {
        ...neon,
        database,
        close: async () => {
          await database.close();
          await neon.close();
        },
      };
    },
  });
}

for (const variant of variants) {
  describe(`statement batches [${variant.name}]`, () => {
    let current: TestDatabase;
    let tenant: { workspaceId: string; userId: string };
    beforeAll(async () => {
      current = await variant.open();
      const seeded = await seedWorkspace(current.database);
      tenant = { workspaceId: seeded.workspaceId, userId: seeded.userId };
    });
    afterAll(() => current.close());

    const orderCount = (database: Database, title: string) =>
      database.withTenant(tenant, async (tx) => {
        const [row] = await rows<{ n: number }>(
          tx,
          sql`select count(*)::int as n from work_orders where title = ${title}`,
        );
        return row?.n;
      });

    it("together returns each statement's result under its name; undefined ones are left out", async () => {
      const { database } = current;
      const title = `together ${randomUUID()}`;
      const result = await database.withTenant(tenant, async (tx) => {
        const id = randomUUID();
        return together(tx, {
          inserted: tx
            .insert(workOrders)
            .values({ id, workspaceId: tenant.workspaceId, title })
            .returning({ id: workOrders.id }),
          // Statements run in order: this one sees the row inserted before it.
          seen: tx.select({ title: workOrders.title }).from(workOrders).where(eq(workOrders.id, id)),
          raw: deferred(() => rows<{ one: number }>(tx, sql`select 1 as one`)),
          list: [deferred(() => rows<{ n: number }>(tx, sql`select 2 as n`)), tx.execute(sql`select 3 as n`)],
          absent: undefined,
        });
      });
      expect(result.inserted).toHaveLength(1);
      expect(result.seen).toEqual([{ title }]);
      expect(result.raw).toEqual([{ one: 1 }]);
      expect(result.list[0]).toEqual([{ n: 2 }]);
      expect(result.list).toHaveLength(2);
      expect(result.absent).toBeUndefined();
      expect(await orderCount(database, title)).toBe(1);
    });

    it("a failure in a together batch fails the transaction: nothing of it is kept", async () => {
      const { database } = current;
      const title = `failed batch ${randomUUID()}`;
      const error = await failure(
        database.withTenant(tenant, (tx) =>
          together(tx, {
            ok: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title }),
            // A project that does not exist: a foreign-key violation.
            bad: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title, projectId: randomUUID() }),
          }),
        ),
      );
      expect(chain(error).some((e) => (e as { code?: string }).code === "23503")).toBe(true);
      expect(await orderCount(database, title)).toBe(0);
    });

    it("commitWith: a failure in the committing batch rolls back the whole transaction and runs no after-commit hook", async () => {
      const { database } = current;
      const title = `rolled back ${randomUUID()}`;
      let hookRan = false;
      const error = await failure(
        database.withTenant(tenant, async (tx) => {
          // An earlier statement of the same transaction, sent on its own.
          await tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title });
          afterCommit(tx, () => {
            hookRan = true;
          });
          return commitWith(tx, {
            ok: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title }),
            bad: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title, projectId: randomUUID() }),
            after: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title }),
          });
        }),
      );
      expect(chain(error).some((e) => (e as { code?: string }).code === "23503")).toBe(true);
      expect(await orderCount(database, title)).toBe(0);
      expect(hookRan).toBe(false);
      // The connection is clean for the next transaction.
      expect(await orderCount(database, title)).toBe(0);
    });

    it("commitWith: a statement after the committing batch throws; hooks run after the commit", async () => {
      const { database } = current;
      const title = `committed ${randomUUID()}`;
      const seenByHook: Array<number | undefined> = [];
      let late: unknown;
      await database.withTenant(tenant, async (tx) => {
        afterCommit(tx, async (db) => {
          // Another transaction sees the row: the hook runs after a real commit.
          seenByHook.push(await orderCount(db, title));
        });
        await commitWith(tx, { order: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title }) });
        late = await failure(tx.select().from(workOrders).where(eq(workOrders.title, title)));
        expect(await failure(together(tx, { again: tx.select().from(workOrders) }))).toBeInstanceOf(Error);
      });
      expect(chain(late).some((e) => e instanceof TransactionEnded)).toBe(true);
      expect(seenByHook).toEqual([1]);
      expect(await orderCount(database, title)).toBe(1);
    });

    it("commitWith with the transaction's only statements: one batch holds BEGIN, the set-up, the statements and COMMIT", async () => {
      const { database } = current;
      const title = `alone ${randomUUID()}`;
      const result = await database.withTenant(tenant, (tx) =>
        commitWith(tx, {
          order: tx
            .insert(workOrders)
            .values({ workspaceId: tenant.workspaceId, title })
            .returning({ title: workOrders.title }),
          count: deferred(() =>
            rows<{ n: number }>(tx, sql`select count(*)::int as n from work_orders where title = ${title}`),
          ),
        }),
      );
      expect(result.order).toEqual([{ title }]);
      expect(result.count).toEqual([{ n: 1 }]);
      expect(await orderCount(database, title)).toBe(1);
    });

    it("a statement that fails before it reaches the database fails the batch unsent", async () => {
      const { database } = current;
      const title = `unsent ${randomUUID()}`;
      const refused = new Error("refused before any query");
      const error = await failure(
        database.withTenant(tenant, (tx) =>
          commitWith(tx, {
            ok: tx.insert(workOrders).values({ workspaceId: tenant.workspaceId, title }),
            bad: deferred(() => Promise.reject(refused)),
          }),
        ),
      );
      expect(error).toBe(refused);
      expect(await orderCount(database, title)).toBe(0);
    });

    it("commitWith refuses a savepoint: only the code that owns the transaction may end it", async () => {
      const { database } = current;
      if (database.kind !== "pglite") return; // savepoints are Drizzle's nested transactions there
      await database.withTenant(tenant, async (tx) => {
        await tx.transaction(async (inner) => {
          expect(() => commitWith(inner as never, {})).toThrow(/savepoint/);
        });
      });
    });
  });
}
