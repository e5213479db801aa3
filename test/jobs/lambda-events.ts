import type { Context, ScheduledEvent, SQSEvent, SQSRecord } from "aws-lambda";

/** An EventBridge scheduled event, as a schedule delivers it to a job's Lambda. */
export function scheduledEvent(rule = "Schedule", time = new Date()): ScheduledEvent {
  return {
    version: "0",
    id: crypto.randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "123456789012",
    time: time.toISOString(),
    region: "eu-west-1",
    resources: [`arn:aws:events:eu-west-1:123456789012:rule/${rule}`],
    detail: {},
  };
}

/** One SQS record with the given raw body. */
export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  const messageId = overrides.messageId ?? crypto.randomUUID();
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: "5",
      SentTimestamp: "1717243200000",
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: "1717243200100",
    },
    messageAttributes: {},
    md5OfBody: "0".repeat(32),
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:IngestDeadLetterQueue",
    awsRegion: "eu-west-1",
    ...overrides,
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** The part of a Lambda context the jobs read: the time left. */
export function lambdaContext(remainingMs = 60_000): Context {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) } as Partial<Context> as Context;
}
