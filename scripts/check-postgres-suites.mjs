#!/usr/bin/env node
// Reads a vitest JSON report and fails unless at least one passed test ran
// against real Postgres (its full name contains "[postgres]"). Guards CI
// against the real-database suites silently skipping (e.g. TEST_DATABASE_URL unset).
// Usage: node scripts/check-postgres-suites.mjs <vitest-json-report>
import { readFileSync } from "node:fs";

const reportPath = process.argv[2];
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
const counts = new Map([...TAGS, "(untagged)"].map((tag) => [tag, { passed: 0, failed: 0, skipped: 0 }]));

for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    const name = test.fullName ?? [...(test.ancestorTitles ?? []), test.title].join(" ");
    const bucket = test.status === "passed" ? "passed" : test.status === "failed" ? "failed" : "skipped";
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
