/**
 * Postgres on Neon, and the migration that runs on every deploy.
 *
 * One Neon project holds the app's data. Production uses the project's default branch;
 * every other stage gets a copy-on-write branch of it, named after the stage, with its own
 * compute — cheap, isolated, and removed with the stage.
 *
 * The project belongs to the production stage. Other stages find it through
 * `NEON_PROJECT_ID` (printed as `neonProjectId` by a production deploy); without it, a stage
 * creates a project of its own and branches from that, so a first `sst deploy --stage dev`
 * works on a fresh Neon account.
 */
import { migrationsDir, migratorFunction } from "./bundling";
import { type CairnFunctionArgs, defineFunction } from "./function-defaults";

const isProduction = $app.stage === "production";
const sharedProjectId = isProduction ? undefined : process.env.NEON_PROJECT_ID;

const databaseName = "cairn";
const roleName = "cairn";

function createProject() {
  return new neon.Project("Database", {
    name: isProduction ? $app.name : `${$app.name}-${$app.stage}`,
    pgVersion: 17,
    // Keep Postgres next to the functions: Neon names its AWS regions `aws-<region>`.
    regionId: aws.getRegionOutput().region.apply((region) => `aws-${region}`),
    branch: { name: "main", databaseName, roleName },
  });
}

const project = sharedProjectId ? neon.getProjectOutput({ id: sharedProjectId }) : createProject();

export const neonProjectId = project.id;

/** Pooled (PgBouncer) and direct connection strings for this stage's branch. */
function stageConnection() {
  if (isProduction) {
    const created = project as neon.Project;
    return { pooled: created.connectionUriPooler, direct: created.connectionUri, branchId: created.defaultBranchId };
  }
  const branch = new neon.Branch("DatabaseBranch", {
    projectId: project.id,
    parentId: project.defaultBranchId,
    name: $app.stage,
  });
  // A branch has no compute until it gets an endpoint.
  const endpoint = new neon.Endpoint("DatabaseEndpoint", {
    projectId: project.id,
    branchId: branch.id,
    type: "read_write",
  });
  // The branch inherits the parent's roles and databases, with the same passwords.
  const user = project.databaseUser;
  const password = neon.getBranchRolePasswordOutput({
    projectId: project.id,
    branchId: branch.id,
    roleName: user,
  }).password;
  const url = (host: $util.Input<string>) =>
    $util
      .all([user, password, host, project.databaseName])
      .apply(
        ([u, p, h, db]) => `postgresql://${encodeURIComponent(u)}:${encodeURIComponent(p)}@${h}/${db}?sslmode=require`,
      );
  // ep-name.region.aws.neon.tech -> ep-name-pooler.region.aws.neon.tech
  const poolerHost = endpoint.host.apply((host) => host.replace(/^([^.]+)\./, "$1-pooler."));
  return { pooled: url(poolerHost), direct: url(endpoint.host), branchId: branch.id };
}

const connection = stageConnection();
export const databaseBranchId = connection.branchId;

/**
 * The database, as linked to functions: `Resource.DatabaseUrl.value` is the pooled
 * connection string (many short-lived Lambdas, one PgBouncer); `.direct` skips the pooler,
 * for the migrator only (DDL and session state belong on a real session).
 */
export const databaseUrl = new sst.Linkable("DatabaseUrl", {
  properties: {
    value: $util.secret(connection.pooled),
    direct: $util.secret(connection.direct),
  },
});

/**
 * The migrator: applies `db/migrations` (schema, pgvector, HNSW indexes, RLS roles and
 * policies) and exits. Deployed like any function so it runs next to the database with the
 * same driver as the app.
 */
export const migrator = defineFunction("Migrator", {
  handler: migratorFunction,
  description: "Applies database migrations; invoked by every deploy",
  // Index builds on a grown table can take minutes; the deploy waits for it.
  timeout: "5 minutes",
  memory: "512 MB",
  // A real Lambda even under `sst dev`: the deploy invokes it before any local runtime is up.
  dev: false,
  copyFiles: [{ from: migrationsDir, to: migrationsDir }],
  link: [databaseUrl],
  environment: {
    // Where copyFiles put them; relative to the working directory, which is the function
    // root both in Lambda (/var/task) and under `sst dev` (the repository).
    CAIRN_MIGRATIONS_DIR: migrationsDir,
  },
});

/**
 * Runs the migrator during `sst deploy`, on every deploy: the trigger changes each time, which
 * replaces (and so re-invokes) the invocation. A failed migration fails the deploy, and the
 * functions below depend on it, so new code never serves traffic against an old schema.
 * Migrations must stay backward compatible with the code still running while they apply.
 */
export const migration = new aws.lambda.Invocation(
  "MigrateDatabase",
  {
    functionName: migrator.name,
    input: JSON.stringify({ stage: $app.stage }),
    triggers: { deployedAt: new Date().toISOString() },
  },
  { dependsOn: [migrator] },
);

/**
 * A function that talks to the database: linked to the connection string (read at run time
 * with `Resource`, so it is not visible as a plain environment variable in the function's
 * configuration), and deployed only after the migration.
 */
export function defineDatabaseFunction(
  name: string,
  args: CairnFunctionArgs,
  opts: $util.ComponentResourceOptions = {},
) {
  return defineFunction(
    name,
    {
      ...args,
      link: [databaseUrl, ...(args.link ?? [])],
    },
    { ...opts, dependsOn: [migration] },
  );
}
