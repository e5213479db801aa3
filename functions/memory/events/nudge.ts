import { logger } from "../../shared/logger";

interface Nudger {
  send(body: string): Promise<void>;
}

let nudger: Promise<Nudger | null> | undefined;

/**
 * The ingest queue's client, when the deployment has one (CAIRN_INGEST_QUEUE_URL, set by the
 * infra). The AWS SDK ships with the Lambda runtime and is loaded only then, so the local
 * server and the bundles never carry it.
 */
function ingestQueue(env = process.env): Promise<Nudger | null> {
  nudger ??= (async () => {
    const queueUrl = env.CAIRN_INGEST_QUEUE_URL;
    if (!queueUrl) return null;
    const { SQSClient, SendMessageCommand } = await import("@aws-sdk/client-sqs");
    const client = new SQSClient(env.CAIRN_SQS_ENDPOINT ? { endpoint: env.CAIRN_SQS_ENDPOINT } : {});
    return {
      send: async (body: string) => {
        await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      },
    };
  })();
  return nudger;
}

/** For tests: forget the cached client so a changed environment takes effect. */
export function resetIngestQueue(): void {
  nudger = undefined;
}

/**
 * Tells the event processor that a workspace has new events, after they were committed.
 * Best effort: the scheduled processor picks up anything a lost nudge would have, so a
 * failure is logged, never thrown.
 */
export async function nudgeEventProcessing(workspaceId: string, stored: number): Promise<boolean> {
  if (stored === 0) return false;
  try {
    const queue = await ingestQueue();
    if (!queue) return false;
    await queue.send(JSON.stringify({ workspaceId, stored }));
    return true;
  } catch (error) {
    logger.warn("could not nudge the ingest queue; the scheduled run will process the events", { workspaceId, error });
    return false;
  }
}
