import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CairnClient, createClient } from "../../sdk/src/index";
import { type Cairn, startCairn } from "./support/server";

/** The `cairn` bin as npm linked it (node_modules/.bin/cairn → sdk/bin/cairn.js), against a spawned npm start. */
let cairn: Cairn;
let client: CairnClient;
const dir = mkdtempSync(join(tmpdir(), "cairn-cli-"));

beforeAll(async () => {
  cairn = await startCairn();
  client = createClient({ baseUrl: cairn.url, apiKey: cairn.key });
});
afterAll(async () => {
  await cairn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["node_modules/.bin/cairn", ...args], {
      env: {
        ...process.env,
        CAIRN_URL: cairn.url,
        CAIRN_API_KEY: cairn.key,
        // Never the developer's own ~/.config/cairn.
        CAIRN_CONFIG: join(dir, "no-config.json"),
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdin.end(options.input ?? "");
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** Every memory's content, read back page by page through the API. */
async function storedContents(): Promise<string[]> {
  const contents: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.GET("/v1/memories", { params: { query: { limit: 200, ...(cursor ? { cursor } : {}) } } });
    contents.push(...page.items.map((memory) => memory.content));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return contents;
}

describe("cairn memories import", () => {
  it("imports 10,000 lines with progress and a summary, reports malformed lines by number, and stores nothing new on a re-run", async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) =>
      JSON.stringify({
        content: `bulk memory ${i}: invoices from supplier ${i % 89}`,
        metadata: { i },
        importance: 0.4,
      }),
    );
    lines[4] = '{"content": "broken'; // line 5: not JSON
    lines[2499] = JSON.stringify({ content: "   " }); // line 2500: the server refuses blank content
    lines[5000] = JSON.stringify({ content: "ok", colour: "red" }); // line 5001: the server refuses unknown keys
    const path = file("bulk.jsonl", `${lines.join("\n")}\n`);

    const first = await cli(["memories", "import", path]);
    expect(first.code, first.stderr).toBe(3);
    const progress = first.stderr.split("\n").filter((line) => line.startsWith("progress: "));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatch(/^progress: 100% {2}10000\/10000 lines {2}\d+ lines\/s {2}ETA 0s$/);
    expect(progress.some((line) => /ETA \d+(s|m\d+s)$/.test(line) && !line.includes("100%"))).toBe(true);
    expect(first.stdout).toContain(`${path}: 10000 lines, 9997 stored, 0 deduplicated, 3 rejected`);
    expect(first.stdout).toMatch(/^line 5: invalid JSON/m);
    expect(first.stdout).toMatch(/^line 2500: content: content must not be blank$/m);
    expect(first.stdout).toMatch(/^line 5001: .*colour/m);

    const expected = lines.filter((_, i) => ![4, 2499, 5000].includes(i)).map((line) => JSON.parse(line).content);
    const stored = await storedContents();
    expect(stored).toHaveLength(9997);
    expect(new Set(stored)).toEqual(new Set(expected));

    const again = await cli(["memories", "import", path, "--json"]);
    expect(again.code).toBe(3);
    const summary = JSON.parse(again.stdout);
    expect(summary).toMatchObject({ lines: 10_000, stored: 0, deduplicated: 9997, blank: 0 });
    expect(summary.rejected.map((rejected: { line: number }) => rejected.line)).toEqual([5, 2500, 5001]);
    expect(await storedContents()).toHaveLength(9997);
  }, 300_000);

  it("reads stdin, skips blank lines and exits 0 when every line is stored", async () => {
    const input = ['{"content":"from stdin one"}', "", '{"content":"from stdin two","type":"CONTEXT"}', ""].join("\n");
    const run = await cli(["memories", "import", "-", "--json", "--no-progress"], { input });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toMatchObject({ lines: 3, stored: 2, blank: 1, rejected: [] });
  });
});

describe("cairn work-orders, approvals, dead-letters, keys", () => {
  it("creates a work order from a file, idempotently with --idempotency-key", async () => {
    const path = file(
      "order.json",
      JSON.stringify({ title: "Pay invoices", items: [{ type: "INVOICE", payload: { amount: 120 } }] }),
    );
    const first = await cli(["work-orders", "create", "-f", path, "--json", "--idempotency-key", "cli-test-1"]);
    expect(first.code, first.stderr).toBe(0);
    const order = JSON.parse(first.stdout);
    expect(order).toMatchObject({ title: "Pay invoices", status: "PENDING", idempotencyKey: "cli-test-1" });
    const again = await cli(["work-orders", "create", "-f", path, "--idempotency-key", "cli-test-1"]);
    expect(again.stdout).toMatch(new RegExp(`^${order.id}\\s+PENDING\\s+1 items\\s+Pay invoices$`, "m"));
    const stored = await client.GET("/v1/work-orders/{id}", { params: { path: { id: order.id } } });
    expect(stored.items.map((item) => item.payload)).toEqual([{ amount: 120 }]);
  });

  it("invites a member, who redeems the invitation for a key and lists, approves and rejects approval requests", async () => {
    const invited = await cli(["members", "invite", "--email", "approver@example.com", "--role", "APPROVER", "--json"]);
    expect(invited.code, invited.stderr).toBe(0);
    const { member, invitation } = JSON.parse(invited.stdout);
    expect(member).toMatchObject({ email: "approver@example.com", role: "APPROVER" });
    // The invitee has no key yet: the accept command needs only the server's address.
    const created = await cli(
      [
        "invitations",
        "accept",
        "--secret",
        invitation.secret,
        "--name",
        "approver",
        "--scopes",
        "approvals:read,approvals:decide",
        "--json",
      ],
      { env: { CAIRN_API_KEY: undefined } },
    );
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({
      name: "approver",
      scopes: ["approvals:read", "approvals:decide"],
      userId: member.userId,
    });
    expect(key.key).toMatch(/^cairn_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    const again = await cli(
      ["invitations", "accept", "--secret", invitation.secret, "--name", "twice", "--scopes", "approvals:read"],
      { env: { CAIRN_API_KEY: undefined } },
    );
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("409 conflict: The invitation was already redeemed");

    const approval = { gate: "BEFORE" as const, approverUserIds: [member.userId] };
    const order = await client.POST("/v1/work-orders", {
      body: {
        title: "Wire transfers",
        items: [
          { type: "WIRE", payload: { amount: 5 }, approval },
          { type: "WIRE", payload: { amount: 5000 }, approval },
        ],
      },
    });
    const asApprover = { CAIRN_API_KEY: key.key };
    const listed = await cli(["approvals", "ls", "--status", "PENDING", "--mine", "--json"], { env: asApprover });
    expect(listed.code, listed.stderr).toBe(0);
    const requests = JSON.parse(listed.stdout).items as { id: string; workItemId: string }[];
    const [small, large] = order.items.map((item) => requests.find((request) => request.workItemId === item.id));
    expect(small && large).toBeTruthy();

    const table = await cli(["approvals", "ls"], { env: asApprover });
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+STATUS\s+GATE\s+TYPE\s+APPROVALS\s+DEADLINE\s+ORDER$/);
    expect(table.stdout).toContain("Wire transfers");

    const approved = await cli(["approvals", "approve", small?.id ?? ""], { env: asApprover });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/APPROVED {2}1\/1 approvals/);
    const noReason = await cli(["approvals", "reject", large?.id ?? ""], { env: asApprover });
    expect(noReason).toMatchObject({ code: 2, stderr: "cairn: --reason is required\n" });
    const rejected = await cli(["approvals", "reject", large?.id ?? "", "--reason", "too large", "--json"], {
      env: asApprover,
    });
    expect(rejected.code, rejected.stderr).toBe(0);
    for (const [request, status] of [
      [small, "APPROVED"],
      [large, "REJECTED"],
    ] as const) {
      const stored = await client.GET("/v1/approvals/{id}", { params: { path: { id: request?.id ?? "" } } });
      expect(stored.status).toBe(status);
    }
  });

  it("lists, shows, redrives with a new payload and discards dead letters", async () => {
    const deadLetter = async () => {
      const [claimed] = (
        await client.POST("/v1/work-items/claim", { body: { workerId: "cli-test", types: ["DL"], limit: 1 } })
      ).items;
      if (!claimed) throw new Error("nothing to claim");
      const failed = await client.POST("/v1/work-items/{id}/fail", {
        params: { path: { id: claimed.id } },
        body: { attemptId: claimed.attemptId, fencingToken: claimed.fencingToken, error: "bad iban", retryable: false },
      });
      return { itemId: claimed.id, id: failed.deadLetterId ?? "" };
    };
    await client.POST("/v1/work-orders", { body: { title: "dl", items: [{ type: "DL", payload: { iban: "x" } }] } });
    const first = await deadLetter();

    const listed = await cli(["dead-letters", "ls", "--status", "OPEN", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((letter: { id: string }) => letter.id)).toContain(first.id);
    const shown = await cli(["dead-letters", "show", first.id]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: first.id, reason: "Non-retryable failure: bad iban" });

    const payload = file("payload.json", JSON.stringify({ iban: "DE89370400440532013000" }));
    const redriven = await cli(["dead-letters", "redrive", first.id, "--payload", payload]);
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(redriven.stdout).toContain(`item ${first.itemId} requeued`);
    const item = await client.GET("/v1/work-items/{id}", { params: { path: { id: first.itemId } } });
    expect(item).toMatchObject({ status: "QUEUED", payload: { iban: "DE89370400440532013000" } });

    const second = await deadLetter();
    const discarded = await cli(["dead-letters", "discard", second.id, "--reason", "customer cancelled", "--json"]);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(JSON.parse(discarded.stdout)).toMatchObject({ status: "DISCARDED", discardReason: "customer cancelled" });
  });
});

describe("cairn exit codes, errors and configuration", () => {
  it("exits 2 on usage errors, 1 on API errors (as JSON on stderr with --json), 0 on --help", async () => {
    expect((await cli(["nonsense"])).code).toBe(2);
    expect((await cli(["dead-letters", "show"])).code).toBe(2);
    expect((await cli(["approvals", "ls", "--bogus"])).code).toBe(2);
    expect((await cli(["work-orders", "create", "-f", join(dir, "missing.json")])).code).toBe(2);
    expect((await cli(["approvals", "ls"], { env: { CAIRN_URL: "", CAIRN_API_KEY: "" } })).code).toBe(2);
    const help = await cli(["memories", "import", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: cairn memories import <file.jsonl | ->");

    const missing = await cli(["dead-letters", "show", "00000000-0000-4000-8000-000000000000", "--json"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { status: 404, code: "not_found" } });
    const invalid = await cli(["work-orders", "create", "-f", file("bad-order.json", '{"title":""}')]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("POST /v1/work-orders failed: 400 validation_failed");
    expect(invalid.stderr).toContain("title:");
    expect(invalid.stderr).not.toContain(cairn.key);
    const down = await cli(["approvals", "ls"], { env: { CAIRN_URL: "http://127.0.0.1:9" } });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("network_error");
  });

  it("saves a profile (file mode 0600, key from stdin) and uses it with --profile", async () => {
    const config = join(dir, "config", "cairn.json");
    const saved = await cli(["profiles", "set", "local", "--url", cairn.url], {
      env: { CAIRN_CONFIG: config, CAIRN_API_KEY: undefined },
      input: `${cairn.key}\n`,
    });
    expect(saved.code, saved.stderr).toBe(0);
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({
      defaultProfile: "local",
      profiles: { local: { url: cairn.url, apiKey: cairn.key } },
    });
    const listed = await cli(["profiles", "ls", "--json"], { env: { CAIRN_CONFIG: config } });
    expect(JSON.parse(listed.stdout)).toEqual([{ name: "local", url: cairn.url, default: true }]);
    expect(listed.stdout).not.toContain(cairn.key);

    const noEnv = { CAIRN_CONFIG: config, CAIRN_URL: undefined, CAIRN_API_KEY: undefined };
    const viaProfile = await cli(["--profile", "local", "dead-letters", "ls", "--json"], { env: noEnv });
    expect(viaProfile.code, viaProfile.stderr).toBe(0);
    expect(JSON.parse(viaProfile.stdout)).toHaveProperty("items");
    const unknown = await cli(["--profile", "prod", "dead-letters", "ls"], { env: noEnv });
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toContain('No profile "prod"');
  });

  it("npx cairn runs the linked bin with no build step", async () => {
    const { stdout } = await promisify(execFile)("npx", ["--no-install", "cairn", "--version"]);
    const pkg = JSON.parse(readFileSync("sdk/package.json", "utf8"));
    expect(stdout.trim()).toBe(pkg.version);
  });
});
