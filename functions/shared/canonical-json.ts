/**
 * JSON with object keys sorted, and its SHA-256: equal values hash equally whatever their key
 * order (an idempotent request's body, the payload an approval was given for).
 */
import { createHash } from "node:crypto";

/** Recursive: every caller passes parsed input, whose JSON values are at most MAX_JSON_DEPTH deep. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export const canonicalHash = (value: unknown) => createHash("sha256").update(canonicalJson(value)).digest("hex");
