import { createHash } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { nudgeEventProcessing, resetIngestQueue } from "../../functions/memory/events/nudge";

/** A local endpoint that answers SQS SendMessage (JSON protocol) and records the calls. */
describe("ingest queue nudge", () => {
  const calls: Array<{ target: string | undefined; body: Record<string, unknown> }> = [];
  let status = 200;
  const server = createServer(async (req: IncomingMessage, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw || "{}");
    calls.push({ target: req.headers["x-amz-target"] as string | undefined, body });
    res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
    // The SDK checks the MD5 of the message body, as SQS returns it.
    const md5 = createHash("md5")
      .update(String(body.MessageBody ?? ""))
      .digest("hex");
    res.end(
      status === 200
        ? JSON.stringify({ MessageId: "m-1", MD5OfMessageBody: md5 })
        : JSON.stringify({ __type: "InternalError", message: "boom" }),
    );
  });
  const saved = { ...process.env };

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    Object.assign(process.env, {
      CAIRN_INGEST_QUEUE_URL: `http://127.0.0.1:${port}/000000000000/ingest`,
      CAIRN_SQS_ENDPOINT: `http://127.0.0.1:${port}`,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_MAX_ATTEMPTS: "1",
    });
  });
  afterEach(() => {
    calls.length = 0;
    status = 200;
    resetIngestQueue();
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("sends the workspace and count to the configured queue", async () => {
    expect(await nudgeEventProcessing("6f1c1c1e-0000-4000-8000-000000000001", 3)).toBe(true);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.target).toBe("AmazonSQS.SendMessage");
    expect(calls[0]!.body.QueueUrl).toMatch(/\/ingest$/);
    expect(JSON.parse(calls[0]!.body.MessageBody as string)).toEqual({
      workspaceId: "6f1c1c1e-0000-4000-8000-000000000001",
      stored: 3,
    });
  });

  it("sends nothing when no event was stored", async () => {
    expect(await nudgeEventProcessing("6f1c1c1e-0000-4000-8000-000000000001", 0)).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it("never throws when the queue fails (the schedule catches up)", async () => {
    status = 500;
    expect(await nudgeEventProcessing("6f1c1c1e-0000-4000-8000-000000000001", 1)).toBe(false);
    expect(calls.length).toBeGreaterThanOrEqual(1);
  });

  it("is off without a queue URL", async () => {
    const url = process.env.CAIRN_INGEST_QUEUE_URL;
    delete process.env.CAIRN_INGEST_QUEUE_URL;
    try {
      expect(await nudgeEventProcessing("6f1c1c1e-0000-4000-8000-000000000001", 2)).toBe(false);
      expect(calls).toHaveLength(0);
    } finally {
      process.env.CAIRN_INGEST_QUEUE_URL = url;
    }
  });
});
