import { createHmac } from "node:crypto";

/**
 * The one signature scheme Cairn speaks both ways (connectors signing the events they send
 * in, approval webhooks signing what Cairn sends out): `sha256=<hex HMAC-SHA256(secret,
 * "<timestamp>.<raw body>")>` in `X-Cairn-Signature`, unix seconds in `X-Cairn-Timestamp`.
 */
export const SIGNATURE_HEADER = "X-Cairn-Signature";
export const TIMESTAMP_HEADER = "X-Cairn-Timestamp";

export function signBody(secret: string, timestamp: number | string, rawBody: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
}
