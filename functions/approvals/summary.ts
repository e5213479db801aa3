/** At most this many payload keys appear in a summary. */
const MAX_KEYS = 20;
const MAX_STRING = 200;

/**
 * A short view of an item's payload for inboxes and notifications: top-level scalars
 * (long strings truncated), nested objects and arrays only described. Approvers see
 * enough to decide without the payload leaking whole into every listing or webhook.
 */
export function summarizePayload(payload: Record<string, unknown>): Record<string, unknown> {
  const summary: Record<string, unknown> = {};
  const keys = Object.keys(payload);
  for (const key of keys.slice(0, MAX_KEYS)) {
    const value = payload[key];
    if (typeof value === "string") summary[key] = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    else if (Array.isArray(value)) summary[key] = `[${value.length} items]`;
    else if (value !== null && typeof value === "object") summary[key] = "{…}";
    else summary[key] = value;
  }
  if (keys.length > MAX_KEYS) summary["…"] = `${keys.length - MAX_KEYS} more fields`;
  return summary;
}
