import pg from "pg";

/**
 * Makes sure the bench database exists (CI sets up the server, not the database) and has
 * pgvector. Connects to the server's `postgres` database to create it when missing.
 */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!name) throw new Error(`BENCH_DATABASE_URL has no database name: ${databaseUrl}`);
  const admin = new URL(databaseUrl);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (!rowCount) {
      // Identifiers cannot be bound; quote it the way Postgres does.
      await client.query(`create database "${name.replace(/"/g, '""')}"`);
    }
  } finally {
    await client.end();
  }
}

/** Creates the vector extension; returns its version, or throws a clear message if unavailable. */
export async function ensureVector(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const avail = await client.query("select default_version from pg_available_extensions where name = 'vector'");
    if (!avail.rowCount) throw new Error("pgvector is not installed on this PostgreSQL server");
    await client.query("create extension if not exists vector");
    const { rows } = await client.query<{ extversion: string }>(
      "select extversion from pg_extension where extname = 'vector'",
    );
    return rows[0].extversion;
  } finally {
    await client.end();
  }
}

export async function serverVersion(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    return rows[0].server_version;
  } finally {
    await client.end();
  }
}

/** Compares dotted versions: true when `have` >= `want`. */
export function versionAtLeast(have: string, want: string): boolean {
  const a = have.split(".").map((x) => parseInt(x, 10));
  const b = want.split(".").map((x) => parseInt(x, 10));
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
