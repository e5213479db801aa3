/**
 * `cairn memories import`: JSONL lines → `POST /v1/memories:batch`. Re-running is safe (the
 * server deduplicates by content hash), and a bad line never sinks its batch: a rejected
 * batch is narrowed down — to the items the validation error names, else by halves — until
 * only the bad lines are left out.
 */
import type { CairnClient } from "../client.js";
import { CairnError, isRecord } from "../errors.js";
import type { components } from "../schema.js";

type MemoryBatchInput = components["schemas"]["MemoryBatchInput"];

/** The server's per-request maximum. */
export const MAX_BATCH = 1000;
/** Stay well under the server's 6 MB body limit for bulk routes. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export interface Rejected {
  line: number;
  reason: string;
}

export interface ImportSummary {
  lines: number;
  stored: number;
  deduplicated: number;
  /** Blank lines, ignored. */
  blank: number;
  rejected: Rejected[];
}

interface Entry {
  line: number;
  item: Record<string, unknown>;
}

export async function importMemories(
  client: CairnClient,
  lines: AsyncIterable<string>,
  options: { batchSize?: number; onProgress?: (linesDone: number, summary: ImportSummary) => void } = {},
): Promise<ImportSummary> {
  const batchSize = Math.min(Math.max(1, options.batchSize ?? MAX_BATCH), MAX_BATCH);
  const summary: ImportSummary = { lines: 0, stored: 0, deduplicated: 0, blank: 0, rejected: [] };
  let batch: Entry[] = [];
  let bytes = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    await send(client, batch, summary);
    batch = [];
    bytes = 0;
    options.onProgress?.(summary.lines, summary);
  };

  for await (const text of lines) {
    const line = ++summary.lines;
    if (text.trim() === "") {
      summary.blank++;
      continue;
    }
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch (error) {
      summary.rejected.push({ line, reason: `invalid JSON: ${(error as Error).message}` });
      continue;
    }
    if (!isRecord(item)) {
      summary.rejected.push({ line, reason: "not a JSON object" });
      continue;
    }
    batch.push({ line, item });
    bytes += text.length;
    if (batch.length >= batchSize || bytes >= MAX_BATCH_BYTES) await flush();
  }
  await flush();
  summary.rejected.sort((a, b) => a.line - b.line);
  return summary;
}

/** Stores `entries`; lines the server refuses are recorded as rejected and the rest stored. */
async function send(client: CairnClient, entries: Entry[], summary: ImportSummary): Promise<void> {
  try {
    // Lines go as they are: the server's validation is the one that counts.
    const items = entries.map((entry) => entry.item) as MemoryBatchInput["items"];
    const stored = await client.POST("/v1/memories:batch", { body: { items } });
    for (const memory of stored.items) {
      if (memory.deduplicated) summary.deduplicated++;
      else summary.stored++;
    }
    return;
  } catch (error) {
    // Anything but "this request's content is refused" (auth, outage…) stops the import.
    if (!(error instanceof CairnError) || ![400, 413, 422].includes(error.status)) throw error;
    const named = itemIssues(error.details, entries.length);
    if (named.size > 0 && named.size < entries.length) {
      for (const [index, reason] of named) summary.rejected.push({ line: entries[index]?.line ?? 0, reason });
      await send(
        client,
        entries.filter((_, index) => !named.has(index)),
        summary,
      );
      return;
    }
    const [only] = entries;
    if (entries.length === 1 && only) {
      summary.rejected.push({ line: only.line, reason: named.get(0) ?? error.message });
      return;
    }
    if (named.size === entries.length) {
      for (const [index, reason] of named) summary.rejected.push({ line: entries[index]?.line ?? 0, reason });
      return;
    }
    // The error names no item (a 422 on an embedding, a database refusal): halve until it does.
    const middle = Math.ceil(entries.length / 2);
    await send(client, entries.slice(0, middle), summary);
    await send(client, entries.slice(middle), summary);
  }
}

/** Item index → reason, from validation details like `[{ path: "items.3.content", message }]`. */
function itemIssues(details: unknown, count: number): Map<number, string> {
  const issues = new Map<number, string>();
  if (!Array.isArray(details)) return issues;
  for (const issue of details) {
    if (!isRecord(issue) || typeof issue.path !== "string") continue;
    const match = /^items\.(\d+)(?:\.(.*))?$/.exec(issue.path);
    if (!match) continue;
    const index = Number(match[1]);
    if (index >= count) continue;
    const reason = `${match[2] ? `${match[2]}: ` : ""}${typeof issue.message === "string" ? issue.message : "invalid"}`;
    issues.set(index, issues.has(index) ? `${issues.get(index)}; ${reason}` : reason);
  }
  return issues;
}
