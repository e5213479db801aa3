#!/usr/bin/env node
// Reads a vitest JSON report and fails unless at least one passed test ran
// against real Postgres (its full name contains "[postgres]"). Guards CI
// against the real-database suites silently skipping (e.g. TEST_DATABASE_URL unset).
// Each further argument must be part of a passed test's full name (CI uses this to
// check that the full-size data sets of `npm run test:full` ran).
// Usage: node scripts/check-postgres-suites.mjs <vitest-json-report> [name part…]
import { readFileSync } from "node:fs";

const [reportPath, ...requiredNames] = process.argv.slice(2);
if (!reportPath) {
  console.error("usage: node scripts/check-postgres-suites.mjs <vitest-json-report>");
  process.exit(2);
}

let report;
try {
  report = JSON.parse(readFileSync(reportPath, "utf8"));
} catch (err) {
  console.error(`cannot read vitest JSON report ${reportPath}: ${err.message}`);
  process.exit(1);
}

const TAGS = ["[postgres]", "[pglite]"];
const passedNames = [];
const counts = new Map([...TAGS, "(untagged)"].map((tag) => [tag, { passed: 0, failed: 0, skipped: 0 }]));

for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    const name = test.fullName ?? [...(test.ancestorTitles ?? []), test.title].join(" ");
    const bucket = test.status === "passed" ? "passed" : test.status === "failed" ? "failed" : "skipped";
    if (bucket === "passed") passedNames.push(name);
    const tags = TAGS.filter((tag) => name.includes(tag));
    for (const tag of tags.length ? tags : ["(untagged)"]) counts.get(tag)[bucket] += 1;
  }
}

for (const [tag, c] of counts) {
  console.log(`${tag.padEnd(11)} passed ${c.passed}, failed ${c.failed}, skipped/todo ${c.skipped}`);
}

if (counts.get("[postgres]").passed === 0) {
  console.error('FAIL: no passed test has "[postgres]" in its name; the real-Postgres suites did not run.');
  process.exit(1);
}
console.log("OK: real-Postgres suites ran.");

const missing = requiredNames.filter((part) => !passedNames.some((name) => name.includes(part)));
for (const part of missing) console.error(`FAIL: no passed test has "${part}" in its name.`);
if (missing.length > 0) process.exit(1);
for (const part of requiredNames) console.log(`OK: passed: …${part}…`);
