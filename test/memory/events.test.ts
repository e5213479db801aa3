import { and, eq, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { connect, type Database, rows } from "../../db/client";
import { connectors, deadLetters, memories, processingJobs, rawEvents } from "../../db/schema";
import {
  type EmbeddingProvider,
  EmbeddingProviderError,
  LexicalHashEmbeddingProvider,
} from "../../functions/memory/embeddings";
import { type EventInput, IngestEventsInput } from "../../functions/memory/events/intake";
import { EVENT_RETRY, extractEventText, processEvents } from "../../functions/memory/events/processing";
import { searchMemories, searchSettings } from "../../functions/memory/search";
import { allRouters } from "../../functions/routers";
import { retryDelayMs } from "../../functions/shared/retry";
import { signBody } from "../../functions/shared/signatures";
import { describeEachDatabase } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";

const provider = new LexicalHashEmbeddingProvider();

/** Events built from the input schema (one source of truth for the shape). */
const event = (
  source: string,
  externalId: string,
  payload: Record<string, unknown>,
  eventType = "message.posted",
): EventInput => IngestEventsInput.shape.events.element.parse({ source, eventType, externalId, payload });

async function keyWithScopes(app: ReturnType<typeof testApp>, adminKey: string, scopes: string[]) {
  const created = await call(app, "POST", "/v1/api-keys", { key: adminKey, body: { name: scopes.join(","), scopes } });
  expect(created.status).toBe(201);
  return created.body.key as string;
}

async function addConnector(database: Database, workspaceId: string, status: "ACTIVE" | "INACTIVE" = "ACTIVE") {
  const secret = `whsec_${Math.random().toString(36).slice(2)}${Date.now()}`;
  const [connector] = await database.withTenant({ workspaceId }, (tx) =>
    tx
      .insert(connectors)
      .values({ workspaceId, name: `hooks ${Math.random()}`, type: "API", status, signingSecret: secret })
      .returning({ id: connectors.id }),
  );
  return { id: connector!.id, secret };
}

function signed(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return {
    raw: body,
    headers: { "X-Cairn-Signature": signBody(secret, timestamp, body), "X-Cairn-Timestamp": String(timestamp) },
  };
}

const countEvents = async (database: Database, workspaceId: string) =>
  (await database.withTenant({ workspaceId }, (tx) => tx.select({ id: rawEvents.id }).from(rawEvents))).length;

/** A provider that always fails, as a provider outage would. */
const failingProvider = (retryable: boolean): EmbeddingProvider => ({
  name: "failing",
  model: "failing",
  dimensions: 768,
  embed: async () => {
    throw new EmbeddingProviderError(retryable ? "provider unavailable (503)" : "provider rejected the input (400)", {
      retryable,
      status: retryable ? 503 : 400,
    });
  },
  describe: () => ({ provider: "failing", model: "failing", dimensions: 768 }),
});

const nested = (depth: number): unknown => (depth === 0 ? "leaf" : { inner: nested(depth - 1) });

describeEachDatabase("events", (db) => {
  it("extracts text by the documented rule", () => {
    expect(extractEventText({ text: "hello" })).toBe("hello");
    expect(extractEventText({ title: "Bug 12", description: "Login fails" })).toBe("Bug 12\n\nLogin fails");
    expect(extractEventText({ title: "Fix", body: "Body wins over description", description: "d" })).toBe(
      "Fix\n\nBody wins over description",
    );
    expect(extractEventText({ message: "  commit msg  ", content: 42 })).toBe("commit msg");
    expect(extractEventText({ title: "only a title" })).toBe("only a title");
    expect(extractEventText({ text: "   ", attachments: ["x"] })).toBeNull();
    expect(extractEventText({ text: { nested: "no" } })).toBeNull();
    expect(extractEventText([1, 2])).toBeNull();
  });

  it("backs off exponentially with jitter, capped", () => {
    expect(retryDelayMs({ ...EVENT_RETRY, baseMs: 1000 }, 1, () => 0)).toBe(500);
    expect(retryDelayMs({ ...EVENT_RETRY, baseMs: 1000 }, 1, () => 1)).toBe(1000);
    expect(retryDelayMs({ ...EVENT_RETRY, baseMs: 1000 }, 3, () => 1)).toBe(4000);
    expect(retryDelayMs({ ...EVENT_RETRY, baseMs: 1000, capMs: 60_000 }, 30, () => 1)).toBe(60_000);
  });

  it("ingests a batch, reports duplicates, processes it into memories, and an event with no text with no memory", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    const writer = await keyWithScopes(app, adminKey, ["memory:write", "memory:read"]);
    const tag = Math.random().toString(36).slice(2);

    const batch = [
      event("slack", `m-${tag}-1`, { text: `Deploys frozen ${tag}`, channel: "ops" }),
      event(
        "jira",
        `J-${tag}`,
        { title: `Checkout times out ${tag}`, description: "The payment provider answers slowly after 6pm" },
        "issue.created",
      ),
      event("slack", `m-${tag}-1`, { text: "same key again, in the same batch" }),
      // Nothing to remember: a reaction has no text field.
      event("slack", `r-${tag}`, { reaction: "thumbsup", user: "U1", itemTs: "1712.0001" }, "reaction.added"),
    ];
    const first = await call(app, "POST", "/v1/events", { key: writer, body: { events: batch } });
    expect(first.status).toBe(202);
    expect(first.body.stored).toBe(3);
    expect(first.body.duplicates).toBe(1);
    expect(first.body.items.map((item: ResponseBody) => item.status)).toEqual([
      "stored",
      "stored",
      "duplicate",
      "stored",
    ]);
    expect(first.body.items[2].id).toBe(first.body.items[0].id);
    const [slackId, jiraId, , reactionId] = first.body.items.map((item: ResponseBody) => item.id as string);

    // Every stored event has exactly one pending processing job, made by the same statement.
    const jobs = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(processingJobs).where(eq(processingJobs.workspaceId, workspaceId)),
    );
    expect(jobs.map((job) => job.eventId).sort()).toEqual([slackId, jiraId, reactionId].sort());
    expect(jobs.every((job) => job.status === "PENDING" && job.jobType === "event")).toBe(true);

    const again = await call(app, "POST", "/v1/events", { key: writer, body: { events: batch.slice(0, 2) } });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ stored: 0, duplicates: 2 });
    expect(again.body.items.map((item: ResponseBody) => [item.status, item.id])).toEqual([
      ["duplicate", slackId],
      ["duplicate", jiraId],
    ]);
    expect(await countEvents(database, workspaceId)).toBe(3);

    const result = await processEvents(database, { limit: 2, provider, chunk: { size: 40, overlap: 10 } });
    expect(result).toMatchObject({ claimed: 3, processed: 3, failed: 0, deadLettered: 0, released: 0, stale: 0 });
    expect(result.memories).toBeGreaterThanOrEqual(3); // the jira text is longer than one 40-character chunk
    expect(await processEvents(database, { provider })).toMatchObject({ claimed: 0 });

    const slack = await call(app, "GET", `/v1/events/${slackId}`, { key: writer });
    expect(slack.status).toBe(200);
    expect(slack.body.processingStatus).toBe("COMPLETED");
    expect(slack.body.processedAt).not.toBeNull();
    expect(slack.body.job).toMatchObject({ status: "COMPLETED", attempts: 1, error: null });
    expect(slack.body.memoryIds).toHaveLength(1); // one chunk: the text is shorter than 40 characters

    const made = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(memories).where(eq(memories.sourceEventId, jiraId)).orderBy(memories.chunkIndex),
    );
    expect(made.length).toBeGreaterThan(1);
    expect(made.map((memory) => memory.chunkIndex)).toEqual(made.map((_, index) => index));
    expect(made[0]!.sourceType).toBe("jira");
    expect(made[0]!.metadata).toMatchObject({ eventType: "issue.created", externalId: `J-${tag}` });
    expect(made[0]!.embeddingDims).toBe(768);
    const [jiraJob] = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(processingJobs).where(eq(processingJobs.eventId, jiraId)),
    );
    expect((jiraJob!.outputData as ResponseBody).memoryIds).toEqual(made.map((memory) => memory.id));
    expect(jiraJob!.durationMs).toBeGreaterThanOrEqual(0);

    // Searchable through the memory search (hybrid: vector and full text), and the reaction made nothing.
    const search = { query: `are deploys frozen ${tag}`, topK: 3 };
    const found = await database.withTenant(
      { workspaceId },
      (tx) => searchMemories(tx, { workspaceId }, search, { provider }),
      searchSettings(search),
    );
    expect(found.results[0]!.sourceEventId).toBe(slackId);
    expect(found.results[0]!.content).toBe(`Deploys frozen ${tag}`);
    const jiraHit = await database.withTenant({ workspaceId }, (tx) =>
      searchMemories(tx, { workspaceId }, { query: "payment", mode: "text", topK: 5 }, { provider }),
    );
    expect(jiraHit.results.map((memory) => memory.sourceEventId)).toContain(jiraId);
    expect(found.results.concat(jiraHit.results).some((memory) => memory.sourceEventId === reactionId)).toBe(false);

    // The event without text: processed, COMPLETED with no memory; no failure, no retry, no dead letter.
    const reaction = await call(app, "GET", `/v1/events/${reactionId}`, { key: writer });
    expect(reaction.status).toBe(200);
    expect(reaction.body.processingStatus).toBe("COMPLETED");
    expect(reaction.body.processedAt).not.toBeNull();
    expect(reaction.body.job).toMatchObject({ status: "COMPLETED", attempts: 1, error: null });
    expect(reaction.body.memoryIds).toEqual([]);
    const letters = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(deadLetters).where(eq(deadLetters.workspaceId, workspaceId)),
    );
    expect(letters).toEqual([]);

    const completed = await call(app, "GET", "/v1/events?status=COMPLETED", { key: writer });
    expect(completed.status).toBe(200);
    expect(completed.body.items.map((item: ResponseBody) => item.id).sort()).toEqual(
      [slackId, jiraId, reactionId].sort(),
    );
    const failedOnly = await call(app, "GET", "/v1/events?status=FAILED", { key: writer });
    expect(failedOnly.body.items).toEqual([]);
  });

  it("retries a failing event with backoff, then fails it into a dead letter after the last attempt", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const stored = await database.withTenant({ workspaceId }, async (tx) => {
      const { ingestEvents } = await import("../../functions/memory/events/intake");
      return ingestEvents(
        tx,
        { workspaceId },
        { events: [event("slack", "retry-1", { text: "will fail three times" })] },
      );
    });
    const eventId = stored.items[0]!.id!;
    const t0 = new Date(Date.now() + 1000);
    const jobOf = async () =>
      (
        await database.withTenant({ workspaceId }, (tx) =>
          tx.select().from(processingJobs).where(eq(processingJobs.eventId, eventId)),
        )
      )[0]!;

    const down = failingProvider(true);
    const first = await processEvents(database, { provider: down, now: t0, retry: { ...EVENT_RETRY, baseMs: 60_000 } });
    expect(first).toMatchObject({ claimed: 1, processed: 0, failed: 1, deadLettered: 0 });
    let job = await jobOf();
    expect(job).toMatchObject({ status: "PENDING", attempts: 1, lockedUntil: null });
    expect(job.error).toMatch(/unavailable/);
    expect(job.availableAt.getTime()).toBeGreaterThanOrEqual(t0.getTime() + 30_000);
    expect(job.availableAt.getTime()).toBeLessThanOrEqual(t0.getTime() + 60_000);
    // Not due yet at the same instant.
    expect(await processEvents(database, { provider: down, now: t0 })).toMatchObject({ claimed: 0 });

    const t1 = new Date(t0.getTime() + 3_600_000);
    expect(
      await processEvents(database, { provider: down, now: t1, retry: { ...EVENT_RETRY, baseMs: 60_000 } }),
    ).toMatchObject({
      failed: 1,
      deadLettered: 0,
    });
    job = await jobOf();
    expect(job.attempts).toBe(2);
    expect(job.availableAt.getTime()).toBeGreaterThanOrEqual(t1.getTime() + 60_000);

    const t2 = new Date(t1.getTime() + 3_600_000);
    expect(await processEvents(database, { provider: down, now: t2 })).toMatchObject({ failed: 1, deadLettered: 1 });
    job = await jobOf();
    expect(job).toMatchObject({ status: "FAILED", attempts: 3 });
    const [row] = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(rawEvents).where(eq(rawEvents.id, eventId)),
    );
    expect(row!.processingStatus).toBe("FAILED");
    const letters = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(deadLetters).where(eq(deadLetters.rawEventId, eventId)),
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]!.errors.map((entry) => entry.attempt)).toEqual([1, 2, 3]);
    expect(letters[0]!.reason).toMatch(/after 3 attempts/);
    // Nothing is left to do, and no memory was written for it.
    expect(await processEvents(database, { provider: down, now: new Date(t2.getTime() + 86_400_000) })).toMatchObject({
      claimed: 0,
    });
    const none = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(memories).where(eq(memories.sourceEventId, eventId)),
    );
    expect(none).toHaveLength(0);
  });

  it("dead-letters at once on a provider error that is not retryable", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const { ingestEvents } = await import("../../functions/memory/events/intake");
    await database.withTenant({ workspaceId }, (tx) =>
      ingestEvents(
        tx,
        { workspaceId },
        { events: [event("slack", "permanent-1", { text: "rejected by the provider" })] },
      ),
    );
    const result = await processEvents(database, {
      provider: failingProvider(false),
      now: new Date(Date.now() + 1000),
    });
    expect(result).toMatchObject({ claimed: 1, failed: 1, deadLettered: 1 });
  });

  it("reclaims a job whose lease expired, and dead-letters one that keeps expiring", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const { ingestEvents } = await import("../../functions/memory/events/intake");
    const stored = await database.withTenant({ workspaceId }, (tx) =>
      ingestEvents(
        tx,
        { workspaceId },
        {
          events: [
            event("slack", "lease-1", { text: "a crashed run held this" }),
            event("slack", "lease-2", { text: "crashed every time" }),
          ],
        },
      ),
    );
    const [crashedOnce, crashedAlways] = stored.items.map((item) => item.id!);
    const now = new Date(Date.now() + 1000);
    const past = new Date(now.getTime() - 60_000);
    await database.withTenant({ workspaceId }, async (tx) => {
      await tx
        .update(processingJobs)
        .set({ status: "PROCESSING", attempts: 1, lockedUntil: past })
        .where(eq(processingJobs.eventId, crashedOnce!));
      await tx
        .update(processingJobs)
        .set({ status: "PROCESSING", attempts: 3, lockedUntil: past })
        .where(eq(processingJobs.eventId, crashedAlways!));
    });
    // A job whose lease is still held is not taken.
    const [held] = await database.withTenant({ workspaceId }, (tx) =>
      ingestEvents(tx, { workspaceId }, { events: [event("slack", "lease-3", { text: "someone is on it" })] }).then(
        (r) => r.items,
      ),
    );
    await database.withTenant({ workspaceId }, (tx) =>
      tx
        .update(processingJobs)
        .set({ status: "PROCESSING", attempts: 1, lockedUntil: new Date(now.getTime() + 60_000) })
        .where(eq(processingJobs.eventId, held!.id!)),
    );

    const result = await processEvents(database, { provider, now });
    expect(result).toMatchObject({ claimed: 2, processed: 1, failed: 1, deadLettered: 1 });
    const statuses = await database.withTenant({ workspaceId }, (tx) =>
      tx
        .select({ eventId: processingJobs.eventId, status: processingJobs.status, attempts: processingJobs.attempts })
        .from(processingJobs),
    );
    const byEvent = new Map(statuses.map((s) => [s.eventId, s]));
    expect(byEvent.get(crashedOnce!)).toMatchObject({ status: "COMPLETED", attempts: 2 });
    expect(byEvent.get(crashedAlways!)).toMatchObject({ status: "FAILED", attempts: 4 });
    expect(byEvent.get(held!.id!)).toMatchObject({ status: "PROCESSING", attempts: 1 });
    const [letter] = await database.withTenant({ workspaceId }, (tx) =>
      tx.select().from(deadLetters).where(eq(deadLetters.rawEventId, crashedAlways!)),
    );
    expect(letter!.reason).toMatch(/lease expired/);
    // Clean up the held job so later tests start with no due work.
    await database.withTenant({ workspaceId }, (tx) =>
      tx
        .update(processingJobs)
        .set({ status: "COMPLETED", lockedUntil: null })
        .where(eq(processingJobs.eventId, held!.id!)),
    );
  });

  it("hands claimed jobs back when the time budget is spent", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const { ingestEvents } = await import("../../functions/memory/events/intake");
    await database.withTenant({ workspaceId }, (tx) =>
      ingestEvents(tx, { workspaceId }, { events: [event("slack", "budget-1", { text: "later" })] }),
    );
    // A zero budget: the loop never starts a job, so nothing is claimed.
    expect(await processEvents(database, { provider, timeBudgetMs: 0 })).toMatchObject({ claimed: 0, processed: 0 });
    // A slow provider spends the budget on the first job; the second goes back unstarted, its attempt refunded.
    await database.withTenant({ workspaceId }, (tx) =>
      ingestEvents(tx, { workspaceId }, { events: [event("slack", "budget-2", { text: "later too" })] }),
    );
    const slow: EmbeddingProvider = {
      ...provider,
      name: provider.name,
      model: provider.model,
      dimensions: provider.dimensions,
      describe: () => provider.describe(),
      embed: async (texts) => {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return provider.embed(texts);
      },
    };
    const result = await processEvents(database, {
      provider: slow,
      timeBudgetMs: 600,
      now: new Date(Date.now() + 1000),
    });
    expect(result).toMatchObject({ claimed: 2, processed: 1, released: 1 });
    const pending = await database.withTenant({ workspaceId }, (tx) =>
      tx
        .select()
        .from(processingJobs)
        .where(and(eq(processingJobs.workspaceId, workspaceId), eq(processingJobs.status, "PENDING"))),
    );
    expect(pending).toHaveLength(1);
    expect(pending[0]!.attempts).toBe(0);
    expect(await processEvents(database, { provider, now: new Date(Date.now() + 1000) })).toMatchObject({
      processed: 1,
    });
  });

  it("accepts connector deliveries only with a valid signature, and stores nothing otherwise", async () => {
    const { database } = db();
    const app = testApp(database);
    const { workspaceId, adminKey } = await seedWorkspace(database);
    const connector = await addConnector(database, workspaceId);
    const body = JSON.stringify({ events: [event("webhook", "hook-1", { text: "signed delivery" })] });
    const path = `/v1/connectors/${connector.id}/events`;

    const rejected = [
      await call(app, "POST", path, { raw: body }),
      await call(app, "POST", path, signed("not-the-secret", body)),
      await call(app, "POST", path, { ...signed(connector.secret, body), raw: body.replace("signed", "forged") }),
      await call(app, "POST", path, signed(connector.secret, body, Math.floor(Date.now() / 1000) - 6 * 60)),
      await call(app, "POST", path, signed(connector.secret, body, Math.floor(Date.now() / 1000) + 6 * 60)),
      await call(app, "POST", path, {
        raw: body,
        headers: { "X-Cairn-Signature": "sha256=zz", "X-Cairn-Timestamp": String(Math.floor(Date.now() / 1000)) },
      }),
      await call(app, "POST", `/v1/connectors/${crypto.randomUUID()}/events`, signed(connector.secret, body)),
    ];
    for (const response of rejected) {
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe("unauthorized");
    }
    expect(await countEvents(database, workspaceId)).toBe(0);

    const accepted = await call(app, "POST", path, signed(connector.secret, body));
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ stored: 1, duplicates: 0 });
    const replay = await call(app, "POST", path, signed(connector.secret, body));
    expect(replay.body).toMatchObject({ stored: 0, duplicates: 1 });
    const listed = await call(app, "GET", "/v1/events", { key: adminKey });
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ connectorId: connector.id, source: "webhook" });

    // Valid signature, invalid body: 400 and nothing stored.
    const bad = JSON.stringify({ events: [{ source: "webhook" }] });
    const invalid = await call(app, "POST", path, signed(connector.secret, bad));
    expect(invalid.status).toBe(400);
    const notJson = await call(app, "POST", path, signed(connector.secret, "{nope"));
    expect(notJson.status).toBe(400);

    const inactive = await addConnector(database, workspaceId, "INACTIVE");
    const body2 = JSON.stringify({ events: [event("webhook", "hook-2", { text: "to an inactive connector" })] });
    const refused = await call(app, "POST", `/v1/connectors/${inactive.id}/events`, signed(inactive.secret, body2));
    expect(refused.status).toBe(403);
    expect(await countEvents(database, workspaceId)).toBe(1);
    await processEvents(database, { provider, now: new Date(Date.now() + 1000) });
  });

  it("takes deliveries from a connector made through the platform API, until its secret is rotated or it is deactivated", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    const created = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "jira-hook", type: "API" },
    });
    expect(created.status).toBe(201);
    const { id, signingSecret } = created.body;
    const path = `/v1/connectors/${id}/events`;
    const body = (externalId: string) =>
      JSON.stringify({ events: [event("jira", externalId, { title: "Ticket", description: externalId })] });

    expect((await call(app, "POST", path, signed(signingSecret, body("J-1")))).status).toBe(202);
    const rotated = await call(app, "POST", `/v1/connectors/${id}/rotate-secret`, { key: adminKey });
    expect(rotated.status).toBe(200);
    expect((await call(app, "POST", path, signed(signingSecret, body("J-2")))).status).toBe(401);
    expect((await call(app, "POST", path, signed(rotated.body.signingSecret, body("J-3")))).status).toBe(202);
    const paused = await call(app, "PATCH", `/v1/connectors/${id}`, { key: adminKey, body: { status: "INACTIVE" } });
    expect(paused.status).toBe(200);
    expect((await call(app, "POST", path, signed(rotated.body.signingSecret, body("J-4")))).status).toBe(403);
    // The OpenAPI document shows the intake as unauthenticated by API key (signed instead).
    const doc = await call(testApp(database, [allRouters.memory, allRouters.platform]), "GET", "/openapi.json");
    expect(doc.body.paths["/v1/connectors/{id}/events"].post.security).toEqual([]);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(["/v1/events", "/v1/events/{id}", "/v1/conversations/{id}/feedback"]),
    );
    const stored = await call(app, "GET", "/v1/events?source=jira", { key: adminKey });
    expect(stored.body.items.map((item: ResponseBody) => item.externalId).sort()).toEqual(["J-1", "J-3"]);
    expect(await countEvents(database, workspaceId)).toBe(2);
    await processEvents(database, { provider, now: new Date(Date.now() + 1000) });
  });

  it("keeps workspaces apart and answers bad input with 4xx", async () => {
    const { database } = db();
    const app = testApp(database);
    const a = await seedWorkspace(database);
    const b = await seedWorkspace(database);
    const posted = await call(app, "POST", "/v1/events", {
      key: a.adminKey,
      body: { events: [event("slack", "iso-1", { text: "workspace A only" })] },
    });
    const id = posted.body.items[0].id;
    expect((await call(app, "GET", `/v1/events/${id}`, { key: b.adminKey })).status).toBe(404);
    expect((await call(app, "GET", "/v1/events", { key: b.adminKey })).body.items).toEqual([]);
    // The same source and external id in another workspace is a different event.
    const inB = await call(app, "POST", "/v1/events", {
      key: b.adminKey,
      body: { events: [event("slack", "iso-1", { text: "workspace B's own" })] },
    });
    expect(inB.body).toMatchObject({ stored: 1, duplicates: 0 });
    expect(inB.body.items[0].id).not.toBe(id);
    // Processing stores each event's memories in its own workspace.
    await processEvents(database, { provider, now: new Date(Date.now() + 1000) });
    const aMemories = await database.withTenant({ workspaceId: a.workspaceId }, (tx) => tx.select().from(memories));
    expect(aMemories.map((memory) => memory.content)).toEqual(["workspace A only"]);

    const reader = await keyWithScopes(app, a.adminKey, ["memory:read"]);
    const forbidden = await call(app, "POST", "/v1/events", {
      key: reader,
      body: { events: [event("x", "y", { text: "z" })] },
    });
    expect(forbidden.status).toBe(403);
    expect((await call(app, "GET", "/v1/events", { key: reader })).status).toBe(200);
    const noScope = await keyWithScopes(app, a.adminKey, ["work:read"]);
    expect((await call(app, "GET", "/v1/events", { key: noScope })).status).toBe(403);

    const tooMany = Array.from({ length: 501 }, (_, i) => ({
      source: "s",
      eventType: "t",
      externalId: `e${i}`,
      payload: {},
    }));
    for (const body of [
      { events: [] },
      { events: tooMany },
      { events: [{ source: "s", eventType: "t", externalId: "e" }] },
      { events: [{ source: "s", eventType: "t", externalId: "e", payload: {}, extra: 1 }] },
      { events: [{ source: "", eventType: "t", externalId: "e", payload: {} }] },
      { events: [{ source: "s", eventType: "t", externalId: "e", payload: "text" }] },
      // Text PostgreSQL cannot store, and nesting deeper than jsonb should be asked to parse.
      { events: [{ source: "s", eventType: "t", externalId: "e\u0000", payload: {} }] },
      { events: [{ source: "s", eventType: "t", externalId: "e", payload: { text: "a\u0000b" } }] },
      { events: [{ source: "s", eventType: "t", externalId: "e", payload: { "k\u0000": 1 } }] },
      { events: [{ source: "s", eventType: "t", externalId: "e", payload: { deep: nested(200) } }] },
      { items: [] },
    ]) {
      const response = await call(app, "POST", "/v1/events", { key: a.adminKey, body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("validation_failed");
    }
    expect((await call(app, "POST", "/v1/events", { key: a.adminKey, raw: "{" })).status).toBe(400);
    expect((await call(app, "GET", "/v1/events/not-a-uuid", { key: a.adminKey })).status).toBe(400);
    expect((await call(app, "GET", "/v1/events?status=DONE", { key: a.adminKey })).status).toBe(400);
    expect((await call(app, "GET", "/v1/events?cursor=garbage", { key: a.adminKey })).status).toBe(400);
    expect((await call(app, "GET", "/v1/events?source=%00", { key: a.adminKey })).status).toBe(400);
  });

  it("pages through events newest first", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    for (let i = 0; i < 3; i++) {
      await call(app, "POST", "/v1/events", {
        key: adminKey,
        body: { events: [event("slack", `page-${i}`, { text: `n${i}` })] },
      });
      await new Promise((resolve) => setTimeout(resolve, 3)); // listings order by created_at (ms), then id
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const response = await call(app, "GET", `/v1/events${query}`, { key: adminKey });
      expect(response.status).toBe(200);
      seen.push(...response.body.items.map((item: ResponseBody) => item.externalId));
      cursor = response.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["page-2", "page-1", "page-0"]);
    await processEvents(database, { provider, now: new Date(Date.now() + 1000) });
  });

  it("processes each job exactly once under concurrent runs, and reports concurrent duplicates", async () => {
    const { database, target, url } = db();
    const { workspaceId } = await seedWorkspace(database);
    const { ingestEvents } = await import("../../functions/memory/events/intake");
    const events = Array.from({ length: 40 }, (_, i) =>
      event("bulk", `c-${i}`, { text: `concurrent event number ${i} about topic ${i * 7}` }),
    );
    await database.withTenant({ workspaceId }, (tx) => ingestEvents(tx, { workspaceId }, { events }));
    const now = new Date(Date.now() + 1000);
    const second = target === "postgres" ? await connect(url, { driver: "neon", max: 5 }) : database;
    try {
      const results = await Promise.all([
        processEvents(database, { provider, limit: 5, now }),
        processEvents(second, { provider, limit: 5, now }),
      ]);
      expect(results[0].processed + results[1].processed).toBe(40);
      expect(results[0].claimed + results[1].claimed).toBe(40);
      const made = await database.withTenant({ workspaceId }, (tx) =>
        rows<{ source_event_id: string; n: number }>(
          tx,
          sql`select source_event_id, count(*)::int as n from memories where workspace_id = ${workspaceId}::uuid group by 1`,
        ),
      );
      expect(made).toHaveLength(40);
      expect(made.every((row) => row.n === 1)).toBe(true);

      const dupes = [event("bulk", "race-1", { text: "raced" }), event("bulk", "race-2", { text: "raced too" })];
      const raced = await Promise.all([
        database.withTenant({ workspaceId }, (tx) => ingestEvents(tx, { workspaceId }, { events: dupes })),
        second.withTenant({ workspaceId }, (tx) => ingestEvents(tx, { workspaceId }, { events: dupes })),
      ]);
      expect(raced[0].stored + raced[1].stored).toBe(2);
      expect(raced[0].duplicates + raced[1].duplicates).toBe(2);
      expect(raced[0].items.map((item) => item.id)).toEqual(raced[1].items.map((item) => item.id));
      expect(raced.flatMap((r) => r.items).every((item) => item.id !== null)).toBe(true);
      await processEvents(database, { provider, now });
    } finally {
      if (second !== database) await second.close();
    }
  });
});
