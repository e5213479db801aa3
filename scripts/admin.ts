/**
 * `npm run admin -- <command>`: operator commands on the database itself (DATABASE_URL, or the
 * embedded PGlite folder — stop `npm start` first; the folder takes one process at a time).
 *
 *   create-key [--workspace <id>] [--email <owner's address>] [--name <key name>]
 *       A new admin key for a workspace's OWNER, printed once: the way back in when every admin
 *       key of a workspace was revoked or lost.
 *   list
 *       Every workspace with its owners' addresses.
 */
import { connect } from "../db/client";
import { migrate } from "../db/migrate";
import { describeFailure, UserError } from "../db/user-error";
import { createRecoveryKey, listWorkspacesForOperator } from "../functions/platform/api-keys";
import { logger } from "../functions/shared/logger";

process.env.LOG_LEVEL ??= "warn";

const usage =
  "usage: npm run admin -- create-key [--workspace <id>] [--email <owner's address>] [--name <key name>]\n" +
  "       npm run admin -- list";

function options(args: string[]): Record<string, string> {
  const found: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i] ?? "";
    const value = args[i + 1];
    if (!["--workspace", "--email", "--name"].includes(flag) || value === undefined) {
      throw new UserError(`unexpected argument ${flag}\n${usage}`);
    }
    found[flag.slice(2)] = value;
  }
  return found;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== "create-key" && command !== "list") throw new UserError(usage);
  const database = await connect(process.env.DATABASE_URL, { log: logger });
  try {
    if (database.kind === "pglite") await migrate(database);
    if (command === "list") {
      for (const workspace of await listWorkspacesForOperator(database)) {
        process.stdout.write(`${workspace.id}  ${workspace.name}  owners: ${workspace.owners ?? "none"}\n`);
      }
      return;
    }
    const given = options(rest);
    const key = await createRecoveryKey(database, {
      workspaceId: given.workspace,
      email: given.email,
      name: given.name,
    });
    // Shown once, like every key: the database keeps only its hash.
    process.stdout.write(`Admin key for ${key.email} in workspace ${key.workspaceId} (shown once):\n${key.key}\n`);
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${describeFailure(error)}\n`);
  process.exit(1);
});
