import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Resource } from "sst/resource";
import { afterEach, describe, expect, inject, it } from "vitest";
import { configureNeonForProxy } from "../db/neon-local";
import { handler } from "../functions/migrator/handler";
import { targets } from "./support/databases";
import { adminQuery, databaseUrl } from "./support/postgres-admin";

const MIGRATIONS = JSON.parse(readFileSync("db/migrations/meta/_journal.json", "utf8")).entries.length as number;

/** The migrator Lambda as a deploy invokes it: against a database with nothing in it yet. */
describe.each(targets)("migrator Lambda [%s]", (target) => {
  const saved = { url: process.env.DATABASE_URL, driver: process.env.CAIRN_DB_DRIVER };
  afterEach(() => {
    process.env.DATABASE_URL = saved.url;
    process.env.CAIRN_DB_DRIVER = saved.driver;
  });

  it("migrates a fresh database once; the second invocation applies nothing", async () => {
    let cleanup: () => Promise<void>;
    if (target === "postgres") {
      const server = process.env.TEST_DATABASE_URL!;
      const name = `cairn_migrator_${randomBytes(5).toString("hex")}`;
      await adminQuery(server, `create database ${name}`);
      configureNeonForProxy(inject("wsProxyPort"));
      process.env.DATABASE_URL = databaseUrl(server, name);
      process.env.CAIRN_DB_DRIVER = "neon";
      cleanup = () => adminQuery(server, `drop database if exists ${name} with (force)`);
    } else {
      const dir = mkdtempSync(join(tmpdir(), "cairn-migrator-"));
      process.env.DATABASE_URL = `pglite:${dir}`;
      delete process.env.CAIRN_DB_DRIVER;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    try {
      expect(await handler()).toEqual({ applied: MIGRATIONS });
      expect(await handler()).toEqual({ applied: 0 });
    } finally {
      await cleanup();
    }
  });
});

/**
 * Deployed, the migrator is the only function linked to the owner; it also ensures the login
 * roles the API and job functions connect as, with the passwords the infra generated.
 */
describe.skipIf(!targets.includes("postgres"))("migrator Lambda, linked as deployed [postgres]", () => {
  afterEach(() => {
    Reflect.deleteProperty(Resource, "MigratorDatabase");
  });

  it("migrates as the owner, then ensures the runtime's login roles (members of cairn_app, cairn_maintenance)", async () => {
    const server = process.env.TEST_DATABASE_URL!;
    const name = `cairn_migrator_${randomBytes(5).toString("hex")}`;
    const logins = {
      app: { role: `${name}_runtime`, password: randomBytes(24).toString("base64url") },
      jobs: { role: `${name}_jobs`, password: randomBytes(24).toString("base64url") },
    };
    await adminQuery(server, `create database ${name}`);
    configureNeonForProxy(inject("wsProxyPort"));
    const saved = process.env.CAIRN_DB_DRIVER;
    process.env.CAIRN_DB_DRIVER = "neon";
    // What SST hands the linked function: the owner's URL and the logins, under Resource.MigratorDatabase.
    Object.assign(Resource, { MigratorDatabase: { url: databaseUrl(server, name), logins } });
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    try {
      expect(await handler()).toEqual({ applied: MIGRATIONS });
      const { rows } = await admin.query(
        `select r.rolname, r.rolcanlogin, r.rolinherit, r.rolsuper,
                array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
                      where m.member = r.oid)::text[] as member_of
         from pg_roles r where r.rolname = any($1) order by r.rolname`,
        [[logins.app.role, logins.jobs.role]],
      );
      expect(rows).toEqual([
        {
          rolname: logins.jobs.role,
          rolcanlogin: true,
          rolinherit: false,
          rolsuper: false,
          member_of: ["cairn_maintenance"],
        },
        { rolname: logins.app.role, rolcanlogin: true, rolinherit: false, rolsuper: false, member_of: ["cairn_app"] },
      ]);
      // The next deploy: nothing to apply, the roles kept.
      expect(await handler()).toEqual({ applied: 0 });
    } finally {
      if (saved === undefined) delete process.env.CAIRN_DB_DRIVER;
      else process.env.CAIRN_DB_DRIVER = saved;
      await adminQuery(server, `drop database if exists ${name} with (force)`);
      await admin.query(`drop role if exists ${logins.app.role}, ${logins.jobs.role}`);
      await admin.end();
    }
  });
});
