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
 *
 * Least privilege: the project's role (`cairn`, the owner, a member of Neon's neon_superuser,
 * which bypasses row-level security) is linked to the migrator alone. The API functions log in
 * as `cairn_runtime` and the job functions as `cairn_jobs`: NOINHERIT roles that are members of
 * cairn_app / cairn_maintenance only, created by the migrator with SQL (a role made through
 * Neon's API or this provider would be a member of neon_superuser) with passwords generated
 * here (db/login-roles.ts).
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
 * The logins of the API and job functions, named after the database as `npm start` names its
 * own (`loginRoleNames` in db/login-roles.ts). Each stage generates its passwords once (they
 * stay the same from deploy to deploy); a stage branch inherits production's roles and its
 * migrator gives them the stage's passwords.
 */
const login = (role: string, name: string) => ({
  role,
  password: new random.RandomPassword(name, { length: 40, special: false }).result,
});
const logins = {
  app: login(`${databaseName}_runtime`, "DatabaseRuntimePassword"),
  jobs: login(`${databaseName}_jobs`, "DatabaseJobsPassword"),
};

/** `uri` (the owner's) with another role's user and password. */
const asLogin = (uri: $util.Input<string>, { role, password }: (typeof logins)["app"]) =>
  $util.all([uri, password]).apply(([value, secret]) => {
    const url = new URL(value);
    url.username = role;
    url.password = secret;
    return url.toString();
  });

/**
 * What the API functions connect with: `Resource.DatabaseUrl.value`, the pooled connection
 * string (many short-lived Lambdas, one PgBouncer) of `cairn_runtime`.
 */
export const databaseUrl = new sst.Linkable("DatabaseUrl", {
  properties: { value: $util.secret(asLogin(connection.pooled, logins.app)) },
});

/** What the job functions connect with: the pooled connection string of `cairn_jobs`. */
export const jobsDatabaseUrl = new sst.Linkable("JobsDatabaseUrl", {
  properties: { value: $util.secret(asLogin(connection.pooled, logins.jobs)) },
});

/**
 * The migrator's link, and nobody else's: the owner's direct connection (DDL and session state
 * belong on a real session, not the pooler) and the logins it creates or updates.
 */
export const migratorDatabase = new sst.Linkable("MigratorDatabase", {
  properties: {
    url: $util.secret(connection.direct),
    logins: $util.secret($util.output(logins)),
  },
});

/**
 * The migrator: applies `db/migrations` (schema, pgvector, HNSW indexes, RLS roles and
 * policies), ensures the login roles above, and exits. Deployed like any function so it runs
 * next to the database with the same driver as the app.
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
  link: [migratorDatabase],
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
 * A function that talks to the database: linked to its connection string (read at run time
 * with `Resource`, so it is not visible as a plain environment variable in the function's
 * configuration) — `DatabaseUrl` for the API, `JobsDatabaseUrl` for jobs — and deployed only
 * after the migration, which creates the role it logs in as.
 */
export function defineDatabaseFunction(
  name: string,
  args: CairnFunctionArgs,
  opts: $util.ComponentResourceOptions = {},
  database: typeof databaseUrl = databaseUrl,
) {
  return defineFunction(
    name,
    {
      ...args,
      link: [database, ...(args.link ?? [])],
    },
    { ...opts, dependsOn: [migration] },
  );
}

/** A job function: as `defineDatabaseFunction`, logged in as `cairn_jobs`. */
export const defineJobFunction = (name: string, args: CairnFunctionArgs) =>
  defineDatabaseFunction(name, args, {}, jobsDatabaseUrl);
