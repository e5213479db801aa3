import { execFile, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CairnClient, createClient } from "../../sdk/src/index";
import { type Cairn, startCairn } from "./support/server";

/**
 * README.md's SDK examples, extracted by their `<!-- sdk-example: NAME -->` marker and run as
 * written against a spawned npm start. The worker example imports "@cairn/client" from the
 * package as published: compiled by tsc into a node_modules folder, with no sources and no tsx.
 */
const run = promisify(execFile);
const root = resolve(".");
let cairn: Cairn;
let client: CairnClient;
let installed: string;
let scratch: string;

beforeAll(async () => {
  installed = mkdtempSync(join(tmpdir(), "cairn-installed-"));
  // Inside the repository, so `npx cairn` finds the workspace's bin as a reader's shell would.
  mkdirSync(join(root, ".scratch"), { recursive: true });
  scratch = mkdtempSync(join(root, ".scratch", "readme-"));
  cairn = await startCairn();
  client = createClient({ baseUrl: cairn.url, apiKey: cairn.key });
});
afterAll(async () => {
  await cairn?.stop();
  for (const dir of [installed, scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
});

function example(name: string): string {
  const readme = readFileSync("README.md", "utf8");
  const match = new RegExp(`<!-- sdk-example: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(readme);
  if (!match?.[1]) throw new Error(`README.md has no example marked sdk-example: ${name}`);
  return `${match[1]}\n`;
}

/** The package as npm would install it: package.json, bin/ and dist/ from tsc; its dependency linked. */
async function installPublishedPackage(): Promise<string> {
  const pkg = join(installed, "node_modules", "@cairn", "client");
  await run("npx", ["tsc", "-p", "sdk/tsconfig.build.json", "--outDir", join(pkg, "dist")]);
  cpSync("sdk/package.json", join(pkg, "package.json"));
  cpSync("sdk/bin", join(pkg, "bin"), { recursive: true });
  symlinkSync(join(root, "node_modules", "openapi-fetch"), join(installed, "node_modules", "openapi-fetch"), "dir");
  return pkg;
}

describe("README examples", () => {
  it("the worker example completes the INVOICE items, dead-letters a bad one and exits 0 on SIGTERM", async () => {
    const pkg = await installPublishedPackage();
    const files: string[] = JSON.parse(readFileSync("sdk/package.json", "utf8")).files;
    expect(files.sort()).toEqual(["README.md", "bin", "dist"]);
    // The published bin runs the compiled CLI (there are no sources to run).
    const version = await run(process.execPath, [join(pkg, "bin", "cairn.js"), "--version"]);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync("sdk/package.json", "utf8")).version);

    const order = await client.POST("/v1/work-orders", {
      body: {
        title: "README worker",
        retry: { baseMs: 1, capMs: 1 },
        items: [120, 80, -5].map((amount) => ({ type: "INVOICE", payload: { amount } })),
      },
    });
    writeFileSync(join(installed, "worker.mjs"), example("worker"));
    const child = spawn(process.execPath, ["worker.mjs"], {
      cwd: installed,
      env: { ...process.env, CAIRN_URL: cairn.url, CAIRN_API_KEY: cairn.key },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    const deadline = Date.now() + 30_000;
    let done = await client.GET("/v1/work-orders/{id}", { params: { path: { id: order.id } } });
    while (!["COMPLETED", "FAILED"].includes(done.status) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((wait) => setTimeout(wait, 200));
      done = await client.GET("/v1/work-orders/{id}", { params: { path: { id: order.id } } });
    }
    child.kill("SIGTERM");
    expect(await exited, output).toBe(0);
    expect(done.itemCounts).toEqual({ COMPLETED: 2, FAILED: 1 });
    expect(done.items.map((item) => [item.status, item.result])).toEqual(
      expect.arrayContaining([
        ["COMPLETED", { paid: 120 }],
        ["COMPLETED", { paid: 80 }],
        ["FAILED", null],
      ]),
    );
  }, 120_000);

  it("the CLI example runs with exit 0 and stores what it says", async () => {
    writeFileSync(join(scratch, "example.sh"), example("cli"));
    const env = { ...process.env, CAIRN_URL: cairn.url, CAIRN_API_KEY: cairn.key, CAIRN_CONFIG: join(scratch, "none") };
    const first = await run("bash", ["-euo", "pipefail", "example.sh"], { cwd: scratch, env });
    expect(first.stdout).toMatch(/PENDING\s+1 items\s+Pay invoices/);
    expect(first.stdout).toContain("memories.jsonl: 2 lines, 2 stored, 0 deduplicated, 0 rejected");
    expect(first.stdout).toMatch(/^ID\s+STATUS\s+GATE/m);
    const memories = await client.GET("/v1/memories", { params: { query: { limit: 10 } } });
    expect(memories.items.map((memory) => memory.content).sort()).toEqual([
      "ACME is paid on the 5th of the month",
      "Invoices above 10,000 EUR need two approvals",
    ]);
    // Run again: a second order (new idempotency key), no new memory.
    const second = await run("bash", ["-euo", "pipefail", "example.sh"], { cwd: scratch, env });
    expect(second.stdout).toContain("memories.jsonl: 2 lines, 0 stored, 2 deduplicated, 0 rejected");
  }, 120_000);
});
