#!/usr/bin/env node
/**
 * Type-checks sst.config.ts and infra/ against SST's platform types (components, the aws
 * and neon providers), so a wrong component property fails `npm run typecheck` instead of a
 * deploy.
 *
 * Those types live in .sst/platform, which `sst install` writes: SST's platform code and
 * the providers declared in sst.config.ts, all from the npm registry. It needs no AWS
 * credentials and runs only when .sst/platform is missing or stale (another SST version, or
 * the providers in sst.config.ts changed); a fresh clone pays about a minute once.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const stampFile = join(root, ".sst", "typecheck-infra.json");
// sst's package exports hide its package.json and CLI entry from require.resolve.
const sstDir = join(root, "node_modules", "sst");

function expectedStamp() {
  const sstVersion = JSON.parse(readFileSync(join(sstDir, "package.json"), "utf8")).version;
  const config = readFileSync(join(root, "sst.config.ts"), "utf8");
  // Only the providers block decides what `sst install` fetches; fall back to the whole file.
  const providers = config.match(/providers\s*:\s*\{[\s\S]*?\n\s*\}/)?.[0] ?? config;
  return { sstVersion, providers: createHash("sha256").update(providers).digest("hex") };
}

function isFresh(expected) {
  if (!existsSync(join(root, ".sst", "platform", "config.d.ts"))) return false;
  if (!existsSync(stampFile)) return false;
  const stamp = JSON.parse(readFileSync(stampFile, "utf8"));
  return stamp.sstVersion === expected.sstVersion && stamp.providers === expected.providers;
}

function run(label, command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`typecheck-infra: ${label} failed${result.error ? `: ${result.error.message}` : ""}`);
    process.exit(result.status ?? 1);
  }
}

const expected = expectedStamp();
if (!isFresh(expected)) {
  console.log("typecheck-infra: installing SST platform types (sst install)…");
  run("sst install", process.execPath, [join(sstDir, "bin", "sst.mjs"), "install"], {
    ...process.env,
    // A throwaway stage: `install` touches no cloud resources, but SST wants one.
    SST_STAGE: process.env.SST_STAGE ?? "ci",
    // Providers' postinstall scripts download Pulumi plugins from GitHub; types need none.
    npm_config_ignore_scripts: "true",
    SST_NO_BUN: "1",
    SST_SKIP_DEPENDENCY_CHECK: "1",
    SST_TELEMETRY_DISABLED: "1",
  });
  writeFileSync(stampFile, `${JSON.stringify(expected, null, 2)}\n`);
}

const tsc = require.resolve("typescript/bin/tsc");
run("tsc -p infra/tsconfig.json", process.execPath, [tsc, "-p", join(root, "infra", "tsconfig.json")]);
console.log("typecheck-infra: sst.config.ts and infra/ type-check");

// Negative control: the same compiler options over a component with a misspelled property
// (infra/fixtures/wrong-property.ts) must fail, or the check above proves nothing.
const fixture = "infra/fixtures/wrong-property.ts";
const negativeConfig = join(root, ".sst", "typecheck-infra-negative.json");
writeFileSync(
  negativeConfig,
  `${JSON.stringify({ extends: "../infra/tsconfig.json", files: [`../${fixture}`], include: [] }, null, 2)}\n`,
);
const negative = spawnSync(process.execPath, [tsc, "-p", negativeConfig], { cwd: root, encoding: "utf8" });
if (negative.status === 0 || !/visibilityTimout/.test(negative.stdout)) {
  console.error(
    `typecheck-infra: ${fixture} (a misspelled Queue property) was not rejected:\n${negative.stdout}${negative.stderr}`,
  );
  process.exit(1);
}
console.log(
  `typecheck-infra: a misspelled component property is rejected (${fixture}: ${negative.stdout.match(/error TS\d+/)?.[0]})`,
);
