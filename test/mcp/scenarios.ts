/**
 * What an agent does with Cairn's MCP server, as vitest cases that run against any target:
 * the app in-process (on each test database), a spawned `npm start` over Streamable HTTP, and
 * the stdio bridge pointed at it.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { expect, it } from "vitest";
import { addPerson, callTool, createKey, createWorkspace, type ErrorBody, type Target } from "./support";

export const ALL_TOOLS = [
  "search_memories",
  "remember",
  "get_memory",
  "forget",
  "forget_subject",
  "create_work_order",
  "get_work_order",
  "claim_work_item",
  "complete_work_item",
  "fail_work_item",
  "list_dead_letters",
  "request_approval",
  "get_approval",
  "wait_for_approval",
];

const toolNames = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();
const templates = async (client: Client) =>
  (await client.listResourceTemplates()).resourceTemplates.map((template) => template.uriTemplate).sort();
/** A name no other test (or earlier run on the same database) uses, for types and content. */
/** The JSON of a resource read's one text content. */
function resourceJson(contents: Array<{ text?: unknown; blob?: unknown }>): unknown {
  expect(contents).toHaveLength(1);
  const [content] = contents;
  if (typeof content?.text !== "string") throw new Error(`not a text resource: ${JSON.stringify(contents)}`);
  return JSON.parse(content.text);
}
export const unique = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;

interface StoredMemory {
  memory: { id: string; content: string };
  deduplicated: boolean;
  note: string;
}
interface ClaimedItems {
  items: Array<{ id: string; workOrderId: string; attemptId: string; fencingToken: string; payload: unknown }>;
}
interface ApprovalView {
  id: string;
  status: string;
  final: boolean;
  approvalsCount: number;
  requiredApprovals: number;
  workItemId: string;
  decisions: Array<{ actorType: string; actorUserId: string | null; decision: string; reason: string | null }>;
  message: string;
}
interface RequestedApproval {
  approvalRequestId: string;
  workItemId: string;
  workOrderId: string;
  status: string;
  requiredApprovals: number;
  policyId: string | null;
}

export function mcpScenarios(target: () => Target, adminKey: () => string): void {
  it("lists the tools and resource templates a key's scopes allow, and refuses the others", async () => {
    const { api, connect } = target();
    const admin = await connect(adminKey());
    expect(await toolNames(admin)).toEqual([...ALL_TOOLS].sort());
    expect(await templates(admin)).toEqual(["cairn://memories/{id}", "cairn://work-orders/{id}"]);
    const tools = (await admin.listTools()).tools;
    for (const tool of tools) {
      expect(tool.description?.length, tool.name).toBeGreaterThan(80);
      expect(tool.inputSchema.type).toBe("object");
    }

    const memoryOnly = await connect(await createKey(api, adminKey(), ["memory:read", "memory:write"]));
    expect(await toolNames(memoryOnly)).toEqual([
      "forget",
      "forget_subject",
      "get_memory",
      "remember",
      "search_memories",
    ]);
    expect(await templates(memoryOnly)).toEqual(["cairn://memories/{id}"]);

    const readOnly = await connect(await createKey(api, adminKey(), ["memory:read"]));
    expect(await toolNames(readOnly)).toEqual(["get_memory", "search_memories"]);
    const refused = await callTool<ErrorBody>(readOnly, "forget", { id: crypto.randomUUID() });
    expect(refused).toEqual({
      isError: true,
      body: { error: { code: "forbidden", message: "This API key lacks the 'memory:write' scope" } },
    });
    const notListed = await callTool<ErrorBody>(memoryOnly, "create_work_order", {
      title: "x",
      items: [{ type: "T" }],
    });
    expect(notListed.isError).toBe(true);
    expect(notListed.body.error.code).toBe("forbidden");
  });

  it("remembers (deduplicated), searches, reads, reads as a resource and forgets a memory", async () => {
    const client = await target().connect(adminKey());
    const word = unique("zephyr");
    const content = `The ${word} deployment window is Tuesday 14:00 UTC`;
    const first = await callTool<StoredMemory>(client, "remember", { content, metadata: { team: "ops" } });
    expect(first.isError).toBe(false);
    expect(first.body).toMatchObject({ deduplicated: false, memory: { content, type: "KNOWLEDGE" } });
    const again = await callTool<StoredMemory>(client, "remember", { content: `  ${content.replace(/ /g, "  ")} ` });
    expect(again.body).toMatchObject({ deduplicated: true, memory: { id: first.body.memory.id } });
    expect(again.body.note).toMatch(/already stored/i);

    const found = await callTool<{ results: Array<{ id: string; score: number }> }>(client, "search_memories", {
      query: `when is the ${word} deployment window`,
      topK: 3,
    });
    expect(found.isError).toBe(false);
    expect(found.body.results[0]?.id).toBe(first.body.memory.id);

    const read = await callTool<{ id: string; contentHash: string }>(client, "get_memory", {
      id: first.body.memory.id,
    });
    expect(read.body).toMatchObject({ id: first.body.memory.id, content });
    expect(read.body.contentHash).toMatch(/^[0-9a-f]{64}$/);

    const resource = await client.readResource({ uri: `cairn://memories/${first.body.memory.id}` });
    expect(resource.contents[0]?.mimeType).toBe("application/json");
    expect(resourceJson(resource.contents)).toMatchObject({ id: first.body.memory.id, content });

    const forgotten = await callTool(client, "forget", { id: first.body.memory.id });
    expect(forgotten).toEqual({ isError: false, body: { deleted: true, id: first.body.memory.id } });
    const gone = await callTool<ErrorBody>(client, "get_memory", { id: first.body.memory.id });
    expect(gone.isError).toBe(true);
    expect(gone.body.error.code).toBe("not_found");
  });

  it("remembers for a user, supersedes a changed fact and forgets the user", async () => {
    const client = await target().connect(adminKey());
    const userId = unique("user");
    const word = unique("quokka");
    const old = await callTool<StoredMemory>(client, "remember", { content: `${word} prefers email`, userId });
    expect(old.body).toMatchObject({ deduplicated: false, memory: { userId, validTo: null } });
    const merged = await callTool<StoredMemory & { merged: unknown }>(client, "remember", {
      content: `${word} prefers email`,
      userId,
      importance: 0.9,
    });
    expect(merged.body).toMatchObject({ deduplicated: true, merged: { importance: { before: 0.5, after: 0.9 } } });
    const next = await callTool<StoredMemory>(client, "remember", {
      content: `${word} prefers phone calls`,
      userId,
      supersedes: old.body.memory.id,
    });
    expect(next.body.memory).toMatchObject({ supersedesId: old.body.memory.id });
    const found = await callTool<{ results: Array<{ id: string }> }>(client, "search_memories", {
      query: `${word} prefers`,
      filters: { userId },
    });
    expect(found.body.results.map((r) => r.id)).toEqual([next.body.memory.id]);
    const forgotten = await callTool(client, "forget_subject", { userId });
    expect(forgotten).toEqual({ isError: false, body: { deleted: 2 } });
  });

  it("claims and completes an item fenced by its token; a wrong token is a conflict; a failure is dead-lettered", async () => {
    const client = await target().connect(adminKey());
    const type = unique("INVOICE");
    const order = await callTool<{ id: string; items: Array<{ id: string; status: string }> }>(
      client,
      "create_work_order",
      { title: "Pay invoices", items: [{ type, payload: { amount: 120 } }] },
    );
    expect(order.isError).toBe(false);
    expect(order.body.items[0]?.status).toBe("QUEUED");

    const claimed = await callTool<ClaimedItems>(client, "claim_work_item", { workerId: "agent-1", types: [type] });
    const item = claimed.body.items[0];
    if (!item) throw new Error(`nothing claimed: ${JSON.stringify(claimed.body)}`);
    expect(item).toMatchObject({ id: order.body.items[0]?.id, payload: { amount: 120 } });
    expect(item.fencingToken).toMatch(/^[1-9][0-9]*$/);

    const wrongToken = (BigInt(item.fencingToken) + 1000n).toString();
    const stale = await callTool<ErrorBody>(client, "complete_work_item", {
      workItemId: item.id,
      attemptId: item.attemptId,
      fencingToken: wrongToken,
      result: { paid: true },
    });
    expect(stale.isError).toBe(true);
    expect(stale.body.error.code).toBe("conflict");

    const done = await callTool(client, "complete_work_item", {
      workItemId: item.id,
      attemptId: item.attemptId,
      fencingToken: item.fencingToken,
      result: { paid: true },
    });
    expect(done).toMatchObject({ isError: false, body: { id: item.id, status: "COMPLETED" } });

    const read = await callTool<{ status: string; items: Array<{ result: unknown }> }>(client, "get_work_order", {
      id: order.body.id,
    });
    expect(read.body).toMatchObject({ status: "COMPLETED", items: [{ result: { paid: true } }] });
    const resource = await client.readResource({ uri: `cairn://work-orders/${order.body.id}` });
    expect(resourceJson(resource.contents)).toMatchObject({ id: order.body.id, status: "COMPLETED" });

    // A failure that cannot be retried ends as a dead letter, listed with the item's id.
    const failing = unique("SCRAPE");
    await callTool(client, "create_work_order", { title: "Scrape", items: [{ type: failing, maxAttempts: 1 }] });
    const second = (await callTool<ClaimedItems>(client, "claim_work_item", { workerId: "agent-1", types: [failing] }))
      .body.items[0];
    if (!second) throw new Error("nothing claimed");
    const failed = await callTool<{ status: string; willRetry: boolean; deadLetterId: string }>(
      client,
      "fail_work_item",
      {
        workItemId: second.id,
        attemptId: second.attemptId,
        fencingToken: second.fencingToken,
        error: "robots.txt forbids it",
        retryable: false,
      },
    );
    expect(failed.body).toMatchObject({ status: "FAILED", willRetry: false });
    const letters = await callTool<{ items: Array<{ id: string; workItemId: string; status: string }> }>(
      client,
      "list_dead_letters",
      { workItemId: second.id },
    );
    expect(letters.body.items).toEqual([
      expect.objectContaining({ id: failed.body.deadLetterId, workItemId: second.id, status: "OPEN" }),
    ]);
  });

  it("asks for approval; a person approves through the API while wait_for_approval waits and reports progress", async () => {
    const { api, connect } = target();
    const client = await connect(adminKey());
    const approver = await addPerson(api, adminKey(), "APPROVER", ["approvals:read", "approvals:decide"]);
    const action = unique("send_email");
    const requested = await callTool<RequestedApproval>(client, "request_approval", {
      action,
      reason: "The customer asked for the invoice again",
      payload: { to: "customer@example.test", subject: "Invoice 42" },
    });
    expect(requested.isError).toBe(false);
    expect(requested.body).toMatchObject({ status: "PENDING", requiredApprovals: 1, policyId: null });

    const pending = await callTool<ApprovalView>(client, "get_approval", {
      approvalRequestId: requested.body.approvalRequestId,
    });
    expect(pending.body).toMatchObject({ status: "PENDING", final: false, workItemId: requested.body.workItemId });
    const brief = await callTool<ApprovalView>(client, "wait_for_approval", {
      approvalRequestId: requested.body.approvalRequestId,
      timeoutSeconds: 1,
    });
    expect(brief.body).toMatchObject({ status: "PENDING", final: false });
    expect(brief.body.message).toMatch(/still pending/i);

    // Four-eyes: the requester (the admin's user) cannot decide its own request.
    const own = await api<ErrorBody>(
      "POST",
      `/v1/approvals/${requested.body.approvalRequestId}/decisions`,
      adminKey(),
      { decision: "APPROVED" },
    );
    expect(own.status).toBe(403);

    const progress: number[] = [];
    let firstProgress: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      firstProgress = resolve;
    });
    const result = callTool<ApprovalView>(
      client,
      "wait_for_approval",
      { approvalRequestId: requested.body.approvalRequestId, timeoutSeconds: 60 },
      {
        onprogress: (update) => {
          progress.push(update.progress);
          firstProgress();
        },
        timeout: 90_000,
      },
    );
    await waiting;
    const decided = await api("POST", `/v1/approvals/${requested.body.approvalRequestId}/decisions`, approver.key, {
      decision: "APPROVED",
      reason: "Fine to send",
    });
    expect(decided.status).toBe(201);
    const approved = await result;
    expect(approved.isError).toBe(false);
    expect(approved.body).toMatchObject({ status: "APPROVED", final: true, approvalsCount: 1 });
    expect(approved.body.decisions).toEqual([
      expect.objectContaining({
        actorType: "USER",
        actorUserId: approver.userId,
        decision: "APPROVED",
        reason: "Fine to send",
      }),
    ]);
    expect(progress.length).toBeGreaterThan(0);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);

    // Approved: the action's item is queued; the agent claims it and records the outcome.
    const claimed = (await callTool<ClaimedItems>(client, "claim_work_item", { workerId: "agent-1", types: [action] }))
      .body.items[0];
    expect(claimed?.id).toBe(requested.body.workItemId);
  });

  it("answers bad arguments with validation_failed tool errors and keeps serving", async () => {
    const client = await target().connect(adminKey());
    const blank = await callTool<ErrorBody>(client, "remember", { content: "   " });
    expect(blank.isError).toBe(true);
    expect(blank.body.error).toMatchObject({
      code: "validation_failed",
      details: [{ path: "content", message: "content must not be blank" }],
    });
    for (const [tool, args] of [
      ["remember", { content: "x", colour: "blue" }],
      ["remember", {}],
      ["search_memories", {}],
      ["get_memory", { id: "not-a-uuid" }],
      ["claim_work_item", { workerId: "w", limit: "lots" }],
      ["complete_work_item", { workItemId: crypto.randomUUID(), attemptId: "x", fencingToken: "-1" }],
      ["wait_for_approval", { approvalRequestId: crypto.randomUUID(), timeoutSeconds: 500 }],
      ["request_approval", { action: "", reason: "why", payload: [] }],
      ["create_work_order", { title: "x", items: [{ type: "T", payload: "not an object" }] }],
    ] as const) {
      const outcome = await callTool<ErrorBody>(client, tool, args);
      expect(outcome.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(outcome.body.error.code, `${tool} ${JSON.stringify(args)}`).toBe("validation_failed");
    }
    // Rules the schema cannot express come back with their own codes (here: no items, 422).
    const empty = await callTool<ErrorBody>(client, "create_work_order", { title: "nothing to do" });
    expect(empty.body.error.code).toBe("invalid");
    // What the database itself refuses is the API's client error too, never an internal one.
    for (const [tool, args] of [
      ["remember", { content: "nul \u0000 byte" }],
      ["remember", { content: "deep", metadata: { a: JSON.parse(`${"[".repeat(1000)}${"]".repeat(1000)}`) } }],
      [
        "complete_work_item",
        { workItemId: crypto.randomUUID(), attemptId: crypto.randomUUID(), fencingToken: "9999999999999999999" },
      ],
      ["search_memories", { query: "'\"():*&|! <-> \\" }],
    ] as const) {
      const outcome = await callTool<ErrorBody>(client, tool, args);
      if (outcome.isError) expect(outcome.body.error.code, tool).not.toBe("internal");
    }
    await expect(callTool(client, "no_such_tool", {})).rejects.toBeInstanceOf(McpError);
    await expect(client.readResource({ uri: "cairn://nothing/1" })).rejects.toBeInstanceOf(McpError);
    // Still serving, on the same client.
    expect((await client.listTools()).tools.length).toBe(ALL_TOOLS.length);
    expect((await callTool(client, "search_memories", { query: "anything" })).isError).toBe(false);
  });

  it("answers not_found for another workspace's ids", async () => {
    const { api, connect } = target();
    const client = await connect(adminKey());
    const memory = await callTool<StoredMemory>(client, "remember", { content: `Private note ${unique("n")}` });
    const order = await callTool<{ id: string }>(client, "create_work_order", {
      title: "Private",
      items: [{ type: unique("PRIVATE") }],
    });
    const approval = await callTool<RequestedApproval>(client, "request_approval", {
      action: unique("wire_money"),
      reason: "Private",
      payload: {},
    });

    const outsider = await connect(await createWorkspace(api, adminKey()));
    for (const [tool, args] of [
      ["get_memory", { id: memory.body.memory.id }],
      ["forget", { id: memory.body.memory.id }],
      ["get_work_order", { id: order.body.id }],
      ["get_approval", { approvalRequestId: approval.body.approvalRequestId }],
      ["wait_for_approval", { approvalRequestId: approval.body.approvalRequestId, timeoutSeconds: 1 }],
      [
        "complete_work_item",
        { workItemId: approval.body.workItemId, attemptId: crypto.randomUUID(), fencingToken: "1" },
      ],
    ] as const) {
      const outcome = await callTool<ErrorBody>(outsider, tool, args);
      expect(outcome.isError, tool).toBe(true);
      expect(outcome.body.error.code, tool).toBe("not_found");
    }
    const refused = await outsider.readResource({ uri: `cairn://work-orders/${order.body.id}` }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(McpError);
    expect((refused as McpError).code).toBe(-32002);
    expect((refused as McpError).data).toMatchObject({ error: { code: "not_found" } });
    // Nothing of the other workspace shows up in a search either.
    const found = await callTool<{ results: unknown[] }>(outsider, "search_memories", { query: "Private note" });
    expect(found.body.results).toEqual([]);
  });
}
