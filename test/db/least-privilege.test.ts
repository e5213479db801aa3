import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import { connectAsLoginRoles, ensureLoginRoles, type LoginRoles } from "../../db/login-roles";
import { migrate } from "../../db/migrate";
import { approvalEvents, approvalRequests, workItems, workOrders } from "../../db/schema";
import { openTestDatabase, type TestDatabase } from "../support/databases";
import { databaseError } from "../support/errors";
import { seedWorkspace } from "../support/http";

/**
 * The runtime logs in as roles that can do what a request (or a job) needs and nothing more:
 * inside a request's transaction, `RESET ROLE` or `SET ROLE postgres` cannot leave row-level
 * security and the append-only trigger behind, because the login role is a NOINHERIT member of
 * cairn_app alone (of cairn_maintenance alone for jobs) — not the owner, not a superuser.
 * Real PostgreSQL only: PGlite has one role, and every transaction sets cairn_app (or
 * cairn_maintenance) itself.
 */
const enabled = Boolean(process.env.TEST_DATABASE_URL);

/** The admin connection (the server's superuser), to look at roles from outside. */
async function admin<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Whether `password` is the one whose SCRAM-SHA-256 verifier the server stores (RFC 5802). */
function scramMatches(verifier: string, password: string): boolean {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!match) return false;
  const [, iterations, salt, storedKey] = match;
  const salted = pbkdf2Sync(password, Buffer.from(salt!, "base64"), Number(iterations), 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return createHash("sha256").update(clientKey).digest("base64") === storedKey;
}

/** A request-like transaction as the app opens it (the tenant and cairn_app), running one probe. */
const probe = (database: Database, workspaceId: string, statement: ReturnType<typeof sql>) =>
  database.withTenant({ workspaceId }, (tx) => tx.execute(statement));

describe.skipIf(!enabled)("least privilege: the runtime's login roles [postgres]", () => {
  let test: TestDatabase;
  let owner: Database;
  let app: Database;
  let jobs: Database;
  let logins: LoginRoles;
  let a: Awaited<ReturnType<typeof seedWorkspace>>;
  let b: Awaited<ReturnType<typeof seedWorkspace>>;
  let bEventId: string;

  beforeAll(async () => {
    test = await openTestDatabase("postgres");
    owner = test.database;
    // What `npm start` does on a server database: login roles, then one pool for each.
    ({ app, jobs, logins } = await connectAsLoginRoles(test.url, owner, { driver: "neon" }));
    a = await seedWorkspace(owner, "a");
    b = await seedWorkspace(owner, "b");
    bEventId = await owner.withTenant({ workspaceId: b.workspaceId }, async (tx) => {
      const [order] = await tx.insert(workOrders).values({ workspaceId: b.workspaceId, title: "b" }).returning();
      const [item] = await tx
        .insert(workItems)
        .values({ workspaceId: b.workspaceId, workOrderId: order!.id, type: "T" })
        .returning();
      const [request] = await tx
        .insert(approvalRequests)
        .values({ workspaceId: b.workspaceId, workItemId: item!.id, workOrderId: order!.id, gate: "BEFORE" })
        .returning();
      const [event] = await tx
        .insert(approvalEvents)
        .values({
          workspaceId: b.workspaceId,
          requestId: request!.id,
          workItemId: item!.id,
          actorType: "SYSTEM",
          decision: "APPROVED",
        })
        .returning();
      return event!.id;
    });
  });
  afterAll(async () => {
    await app?.close();
    await jobs?.close();
    await test?.close();
    if (logins) await admin(`drop role if exists ${logins.app.role}, ${logins.jobs.role}`);
  });

  it("log in as NOINHERIT roles that are members of cairn_app (requests) or cairn_maintenance (jobs) only", async () => {
    const [session] = await rows<{ user: string }>(app.db, sql`select session_user as user`);
    expect(session?.user).toBe(logins.app.role);
    const [jobSession] = await rows<{ user: string }>(jobs.db, sql`select session_user as user`);
    expect(jobSession?.user).toBe(logins.jobs.role);

    const described = await admin<{
      rolname: string;
      rolcanlogin: boolean;
      rolinherit: boolean;
      privileged: boolean;
      member_of: string[];
      rolpassword: string;
    }>(
      `select r.rolname, r.rolcanlogin, r.rolinherit,
              r.rolsuper or r.rolcreaterole or r.rolcreatedb or r.rolreplication or r.rolbypassrls as privileged,
              array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
                    where m.member = r.oid order by 1)::text[] as member_of,
              a.rolpassword
       from pg_roles r join pg_authid a on a.oid = r.oid where r.rolname = any($1) order by r.rolname = $2 desc`,
      [[logins.app.role, logins.jobs.role], logins.app.role],
    );
    expect(described.map(({ rolpassword: _, ...role }) => role)).toEqual([
      { rolname: logins.app.role, rolcanlogin: true, rolinherit: false, privileged: false, member_of: ["cairn_app"] },
      {
        rolname: logins.jobs.role,
        rolcanlogin: true,
        rolinherit: false,
        privileged: false,
        member_of: ["cairn_maintenance"],
      },
    ]);
    // The passwords the pools log in with are the ones the server stores (this test server trusts
    // 127.0.0.1, so the logins above would succeed with any password).
    expect(scramMatches(described[0]!.rolpassword, logins.app.password)).toBe(true);
    expect(scramMatches(described[1]!.rolpassword, logins.jobs.password)).toBe(true);
  });

  it("inside a request's transaction, cannot SET ROLE to the owner or to cairn_maintenance", async () => {
    for (const role of ["postgres", "cairn_maintenance", logins.jobs.role]) {
      expect(await databaseError(probe(app, a.workspaceId, sql.raw(`set role ${role}`)))).toMatch(
        /permission denied to set role/,
      );
      expect(await databaseError(probe(app, a.workspaceId, sql`select set_config('role', ${role}, true)`))).toMatch(
        /permission denied to set role/,
      );
    }
    expect(await databaseError(probe(app, a.workspaceId, sql`set session authorization postgres`))).toMatch(
      /permission denied to set session authorization/,
    );
  });

  it("after RESET ROLE, or when a transaction forgets the role, has no table privileges at all", async () => {
    const reset = app.withTenant({ workspaceId: a.workspaceId }, async (tx) => {
      await tx.execute(sql`reset role`);
      return tx.select().from(workOrders);
    });
    expect(await databaseError(reset)).toMatch(/permission denied for table work_orders/);
    const forgot = app.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.workspace_id', ${b.workspaceId}, true)`);
      return tx.select().from(workOrders);
    });
    expect(await databaseError(forgot)).toMatch(/permission denied for table work_orders/);
    expect(await databaseError(app.db.execute(sql`select count(*) from approval_events`))).toMatch(
      /permission denied for table approval_events/,
    );
  });

  it("as cairn_app, RLS still hides other workspaces and approval_events stay append-only", async () => {
    const seen = await app.withTenant({ workspaceId: a.workspaceId }, (tx) =>
      tx.select().from(workOrders).where(eq(workOrders.workspaceId, b.workspaceId)),
    );
    expect(seen).toEqual([]);
    expect(
      await databaseError(
        app.withTenant({ workspaceId: b.workspaceId }, (tx) =>
          tx.update(approvalEvents).set({ reason: "rewritten" }).where(eq(approvalEvents.id, bEventId)),
        ),
      ),
    ).toMatch(/permission denied for table approval_events/);
    expect(
      await databaseError(
        app.withTenant({ workspaceId: b.workspaceId }, (tx) =>
          tx.delete(approvalEvents).where(eq(approvalEvents.id, bEventId)),
        ),
      ),
    ).toMatch(/permission denied for table approval_events/);
    // Nor can it switch the trigger off, as an owner or superuser could.
    expect(
      await databaseError(
        probe(app, b.workspaceId, sql`alter table approval_events disable trigger approval_events_append_only`),
      ),
    ).toMatch(/must be owner of table approval_events/);
    expect(await databaseError(probe(app, b.workspaceId, sql`set session_replication_role = replica`))).toMatch(
      /permission denied to set parameter "session_replication_role"/,
    );
  });

  it("the jobs' role works across workspaces and as one tenant, but cannot do what only the owner can", async () => {
    const [counted] = await jobs.withMaintenance((tx) =>
      rows<{ n: number }>(tx, sql`select count(*)::int as n from workspaces`),
    );
    expect(counted?.n).toBeGreaterThanOrEqual(2);
    // A job that works for one workspace (delivering its webhook, processing its event) is its tenant.
    const [own] = await jobs.withTenant({ workspaceId: b.workspaceId }, (tx) =>
      rows<{ n: number }>(tx, sql`select count(*)::int as n from work_orders`),
    );
    expect(own?.n).toBe(1);

    const ownersOnly = [
      [sql`create table intruder (id int)`],
      [sql`alter table work_items add column intruder int`],
      [sql`drop table approval_events`],
      [sql`create schema intruder`],
      [sql`set role postgres`],
      [sql`reset role`, sql`drop table work_items`],
    ];
    for (const statements of ownersOnly) {
      const attempt = jobs.withMaintenance(async (tx) => {
        for (const statement of statements) await tx.execute(statement);
      });
      expect(await databaseError(attempt)).toMatch(/permission denied|must be owner/);
    }
    // Migrations are the owner's: applying them with the jobs' connection fails.
    await expect(migrate(jobs)).rejects.toThrow();
    // The request role cannot become the maintenance role either.
    expect(await databaseError(probe(app, a.workspaceId, sql`set role cairn_maintenance`))).toMatch(
      /permission denied to set role/,
    );
  });

  it("ensuring the login roles again keeps them as they are, and refuses a role granted more", async () => {
    await ensureLoginRoles(owner, logins);
    const [still] = await rows<{ user: string }>(app.db, sql`select session_user as user`);
    expect(still?.user).toBe(logins.app.role);

    await admin(`grant pg_read_all_data to ${logins.app.role}`);
    try {
      await expect(ensureLoginRoles(owner, logins)).rejects.toThrow(/pg_read_all_data/);
    } finally {
      await admin(`revoke pg_read_all_data from ${logins.app.role}`);
    }
  });
});
