import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { is, sql } from "drizzle-orm";
import { getTableConfig, type PgTable, PgTable as PgTableClass } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { rows } from "../../db/client";
import { migrate } from "../../db/migrate";
import * as schema from "../../db/schema";
import { describeEachDatabase } from "../support/databases";

const tables = (Object.values(schema) as unknown[]).filter((value): value is PgTable => is(value, PgTableClass));
const tableNames = tables.map((table) => getTableConfig(table).name).sort();

describe("migrations and schema code", () => {
  it("agree: drizzle-kit finds nothing to generate", () => {
    const out = mkdtempSync(join(tmpdir(), "cairn-drift-"));
    try {
      cpSync("db/migrations", out, { recursive: true });
      const before = readdirSync(out).length;
      const output = execFileSync("node_modules/.bin/drizzle-kit", ["generate", "--name=drift_check"], {
        // drizzle-kit reads `out` relative to the working directory.
        env: { ...process.env, CAIRN_MIGRATIONS_OUT: relative(process.cwd(), out) },
        encoding: "utf8",
      });
      expect(output).toContain("No schema changes");
      expect(readdirSync(out).length).toBe(before);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("cover every entity the issue lists", () => {
    expect(tableNames).toEqual(
      [
        "users",
        "workspaces",
        "workspace_members",
        "invitations",
        "api_keys",
        "work_orders",
        "work_items",
        "attempts",
        "dead_letters",
        "workflow_templates",
        "eval_results",
        "approval_policies",
        "approval_requests",
        "approval_events",
        "memories",
        "memory_access",
        "raw_events",
        "processing_jobs",
        "conversations",
        "conversation_memories",
        "feedback",
        "connectors",
        "tools",
        "capabilities",
        "tool_capabilities",
        "schemas",
        "activity_log",
        "projects",
        "work_item_memories",
        // Queue controls (issue 15).
        "queue_limits",
        "queue_rate_windows",
        "queue_pauses",
        "work_schedules",
      ].sort(),
    );
  });
});

describeEachDatabase("migrated database", (db) => {
  it("has every table of the schema, with the columns the code declares", async () => {
    const { database } = db();
    const columns = await rows<{ table_name: string; column_name: string }>(
      database.db,
      sql`select table_name, column_name from information_schema.columns where table_schema = 'public'`,
    );
    for (const table of tables) {
      const config = getTableConfig(table);
      const actual = columns
        .filter((c) => c.table_name === config.name)
        .map((c) => c.column_name)
        .sort();
      expect(actual, config.name).toEqual(config.columns.map((c) => c.name).sort());
    }
  });

  it("has the custom indexes, the vector extension and the append-only trigger", async () => {
    const { database } = db();
    const indexes = await rows<{ indexname: string; indexdef: string }>(
      database.db,
      sql`select indexname, indexdef from pg_indexes where schemaname = 'public'`,
    );
    const byName = new Map(indexes.map((i) => [i.indexname, i.indexdef]));
    expect(byName.get("memories_embedding_768_hnsw")).toMatch(
      /hnsw.*vector\(768\).*vector_cosine_ops.*embedding_dims = 768/,
    );
    expect(byName.get("memories_embedding_1536_hnsw")).toMatch(
      /hnsw.*vector\(1536\).*vector_cosine_ops.*embedding_dims = 1536/,
    );
    expect(byName.get("memories_search_vector_idx")).toMatch(/gin/);
    expect(byName.get("work_items_claim_idx")).toMatch(/WHERE \(status = 'QUEUED'/);
    const [ext] = await rows<{ extversion: string }>(
      database.db,
      sql`select extversion from pg_extension where extname = 'vector'`,
    );
    expect(ext?.extversion).toMatch(/^0\.[89]\./);
    const triggers = await rows<{ tgname: string }>(
      database.db,
      sql`select tgname from pg_trigger where tgrelid = 'approval_events'::regclass and not tgisinternal`,
    );
    expect(triggers.map((t) => t.tgname).sort()).toEqual([
      "approval_events_append_only",
      "approval_events_no_truncate",
    ]);
  });

  it("is a no-op to migrate again", async () => {
    expect(await migrate(db().database)).toEqual({ applied: 0 });
  });

  it("has forced row-level security and a tenant policy on every workspace table", async () => {
    const { database } = db();
    const tenantTables = tables
      .map((t) => getTableConfig(t))
      .filter((c) => c.columns.some((col) => col.name === "workspace_id"))
      .map((c) => c.name);
    expect(tenantTables.length).toBeGreaterThanOrEqual(22);
    const state = await rows<{
      relname: string;
      relrowsecurity: boolean;
      relforcerowsecurity: boolean;
      policies: string[];
    }>(
      database.db,
      sql`select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                 coalesce(array_agg(p.polname::text) filter (where p.polname is not null), '{}') as policies
          from pg_class c left join pg_policy p on p.polrelid = c.oid
          where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
          group by c.relname, c.relrowsecurity, c.relforcerowsecurity`,
    );
    for (const name of [...tenantTables, "workspaces"]) {
      const table = state.find((s) => s.relname === name);
      expect(table, name).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
      expect(table!.policies, name).toEqual(expect.arrayContaining(["tenant_isolation", "maintenance"]));
    }
  });

  it("runs requests as cairn_app, which is neither superuser nor BYPASSRLS", async () => {
    const { database } = db();
    const [role] = await rows<{ rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }>(
      database.db,
      sql`select rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = 'cairn_app'`,
    );
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcanlogin: false });
    const [who] = await database.withTenant({ workspaceId: crypto.randomUUID() }, (tx) =>
      rows<{ current_user: string }>(tx, sql`select current_user`),
    );
    expect(who?.current_user).toBe("cairn_app");
  });
});
