/**
 * `npm run job -- <name> [--now <ISO time>]`: runs one scheduled job once and prints its
 * summary as JSON. Names: tiering, sweeper, dead-letters, events. The database is
 * DATABASE_URL, or the embedded PGlite folder (migrated first, as `npm start` does; stop a
 * running `npm start` first: PGlite's folder takes one process at a time).
 * Exit code 1 when the job failed or reported failures (`ok: false`).
 */
import { connect } from "../db/client";
import { migrate } from "../db/migrate";
import { isJobName, JOB_NAMES } from "../functions/jobs/job";
import { runJobByName } from "../functions/jobs/registry";
import { logger } from "../functions/shared/logger";
import { allowPrivateAddressesByDefault } from "../functions/shared/outbound";

// The summary is this command's output; keep the job's own log lines to warnings and errors.
process.env.LOG_LEVEL ??= "warn";
// Like `npm start`: a webhook receiver on this machine may be notified.
allowPrivateAddressesByDefault();

const usage = `usage: npm run job -- <${JOB_NAMES.join("|")}> [--now <ISO time>]`;

function parseArgs(argv: string[]): { name: string; now?: Date } {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") throw new Error(usage);
  let now: Date | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    const value = arg.startsWith("--now=") ? arg.slice("--now=".length) : arg === "--now" ? rest[++i] : undefined;
    if (value === undefined) throw new Error(`unknown argument ${arg}\n${usage}`);
    now = new Date(value);
    if (Number.isNaN(now.getTime())) throw new Error(`--now ${value} is not a date\n${usage}`);
  }
  return { name, now };
}

async function main(): Promise<number> {
  const { name, now } = parseArgs(process.argv.slice(2));
  if (!isJobName(name)) throw new Error(`unknown job ${name}\n${usage}`);
  const database = await connect(process.env.DATABASE_URL, { log: logger });
  try {
    if (database.kind === "pglite") await migrate(database);
    const summary = await runJobByName(name, database, "cli", { now });
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return summary.ok ? 0 : 1;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
