/**
 * SSRF by other spellings: IPv6 forms that embed an IPv4 address of the deployment's own network
 * (IPv4-compatible, SIIT, NAT64, 6to4) are refused as webhook destinations when a connector is
 * saved and when a delivery is made, and a refused delivery's stored error does not say what a
 * name resolved to inside the deployment. Private addresses are denied here (the default of a
 * deployment), as CAIRN_WEBHOOK_PRIVATE_ADDRESSES unset.
 */
import { createServer, type Server } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../db/client";
import { connectors, deadLetters, processingJobs } from "../db/schema";
import { deliverPendingNotifications, WEBHOOK_MAX_ATTEMPTS } from "../functions/approvals/webhook-delivery";
import type { Router } from "../functions/shared/app";
import { PRIVATE_ADDRESSES_ENV } from "../functions/shared/outbound";
import { describeEachDatabase } from "./support/databases";
import { call, seedWorkspace, testApp } from "./support/http";

/** IPv6 spellings of 127.0.0.1 and of the cloud metadata endpoint 169.254.169.254. */
const SPELLINGS = [
  "::7f00:1", // IPv4-compatible
  "::ffff:0:7f00:1", // SIIT (IPv4-translated)
  "64:ff9b::a9fe:a9fe", // NAT64
  "2002:a9fe:a9fe::", // 6to4
];

describeEachDatabase("webhook destinations", (db) => {
  // Any TCP connection at all to the receiver's port is counted (on every interface, IPv4 and IPv6).
  let receiver: Server;
  let port = 0;
  let connections = 0;
  let previous: string | undefined;
  beforeAll(async () => {
    previous = process.env[PRIVATE_ADDRESSES_ENV];
    delete process.env[PRIVATE_ADDRESSES_ENV];
    receiver = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => receiver.listen(0, "::", resolve));
    port = (receiver.address() as { port: number }).port;
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env[PRIVATE_ADDRESSES_ENV];
    else process.env[PRIVATE_ADDRESSES_ENV] = previous;
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  async function listConnectors(app: Router, key: string) {
    const listed = await call(app, "GET", "/v1/connectors", { key });
    expect(listed.status).toBe(200);
    return listed.body.items as Array<{ id: string; webhookUrl: string | null }>;
  }

  it("refuses each spelling when a connector is saved (400, nothing stored), and still takes a public address", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    for (const address of SPELLINGS) {
      const webhookUrl = `http://[${address}]:${port}/hook`;
      const response = await call(app, "POST", "/v1/connectors", {
        key: adminKey,
        body: { name: "internal", type: "API", webhookUrl },
      });
      expect({ webhookUrl, status: response.status, code: response.body.error?.code }).toEqual({
        webhookUrl,
        status: 400,
        code: "validation_failed",
      });
      expect(response.body.error.details).toEqual([
        { path: "webhookUrl", message: expect.stringMatching(/is not a public address/) },
      ]);
    }
    expect(await listConnectors(app, adminKey)).toEqual([]);

    // Public destinations, including the same forms around a public IPv4 address, are still allowed.
    const created = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "public", type: "API", webhookUrl: "http://[2606:4700:4700::1111]/hook" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const nat64 = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "public nat64", type: "API", webhookUrl: "https://[64:ff9b::808:808]/hook" },
    });
    expect(nat64.status, JSON.stringify(nat64.body)).toBe(201);

    // An edit to one of the spellings is refused too, and leaves the connector as it was.
    for (const address of SPELLINGS) {
      const patched = await call(app, "PATCH", `/v1/connectors/${created.body.id}`, {
        key: adminKey,
        body: { webhookUrl: `http://[${address}]/hook` },
      });
      expect({ address, status: patched.status }).toEqual({ address, status: 400 });
    }
    expect((await call(app, "GET", `/v1/connectors/${created.body.id}`, { key: adminKey })).body.webhookUrl).toBe(
      "http://[2606:4700:4700::1111]/hook",
    );
  });

  /** A workspace whose API connector posts to `url`, stored directly (as one saved before the rule, or edited in SQL). */
  async function hooked(database: Database, url: string) {
    const app = testApp(database);
    const ws = await seedWorkspace(database, "webhooks");
    await database.withTenant({ workspaceId: ws.workspaceId }, (tx) =>
      tx.insert(connectors).values({
        workspaceId: ws.workspaceId,
        name: "hook",
        type: "API",
        webhookUrl: url,
        signingSecret: "whsec_0123456789abcdef",
      }),
    );
    // An item gated BEFORE it runs opens an approval request, whose notification is delivered after commit.
    const order = await call(app, "POST", "/v1/work-orders", {
      key: ws.adminKey,
      body: { title: "Pay", items: [{ type: "INVOICE", payload: {}, approval: { gate: "BEFORE" } }] },
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    return ws;
  }

  async function webhookJob(database: Database, workspaceId: string) {
    const [job] = await database.withTenant({ workspaceId }, (tx) =>
      tx
        .select()
        .from(processingJobs)
        .where(and(eq(processingJobs.workspaceId, workspaceId), eq(processingJobs.jobType, "approval_webhook"))),
    );
    if (!job) throw new Error("no webhook job");
    return job;
  }

  it("refuses each spelling when a delivery is made, before any connection", async () => {
    const { database } = db();
    connections = 0;
    for (const address of SPELLINGS) {
      const { workspaceId } = await hooked(database, `http://[${address}]:${port}/hook`);
      const job = await webhookJob(database, workspaceId);
      expect({ address, status: job.status, attempts: job.attempts, error: job.error }).toEqual({
        address,
        status: "PENDING",
        attempts: 1,
        error: expect.stringMatching(/^refused: .* is not a public address/),
      });
    }
    expect(connections).toBe(0);
  });

  it("keeps what a name resolved to out of the stored error, up to the dead letter", async () => {
    const { database } = db();
    connections = 0;
    const { workspaceId } = await hooked(database, `http://localhost:${port}/hook`);
    let now = Date.now();
    for (let attempt = 2; attempt <= WEBHOOK_MAX_ATTEMPTS; attempt++) {
      now += 2 * 3600_000;
      await deliverPendingNotifications(database, new Date(now));
    }
    const job = await webhookJob(database, workspaceId);
    expect(job.status).toBe("FAILED");
    const [dead] = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(deadLetters).where(eq(deadLetters.workspaceId, workspaceId)),
    );
    // Everything the workspace can read about the failure: the job's errors and its dead letter.
    const stored = JSON.stringify({ error: job.error, output: job.outputData, dead });
    expect(stored).toMatch(/refused: localhost does not resolve to a public address/);
    expect(stored).not.toMatch(/127\.0\.0\.1|::1|\[::\]|0\.0\.0\.0/);
    expect(connections).toBe(0);
  });
});
