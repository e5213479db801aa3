import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { type Command, EXIT, print, stringOption, UsageError } from "../command.js";
import { importMemories, MAX_BATCH } from "../import.js";
import { createProgress } from "../progress.js";

export const memoryCommands: Command[] = [
  {
    path: ["memories", "import"],
    summary:
      "Store memories from a JSONL file (one {content, type?, sourceType?, metadata?, importance?…} per line); safe to re-run",
    args: "<file.jsonl | ->",
    positionals: { min: 1, max: 1 },
    options: {
      "batch-size": { type: "string", description: `memories per request (1..${MAX_BATCH}, default ${MAX_BATCH})` },
      "no-progress": { type: "boolean", description: "no progress on stderr" },
    },
    async run(context) {
      const [file = "-"] = context.positionals;
      const batchSize = Number(stringOption(context, "batch-size") ?? MAX_BATCH);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
        throw new UsageError(`--batch-size must be an integer from 1 to ${MAX_BATCH}`);
      }
      const total = file === "-" ? undefined : await countLines(file);
      const input = file === "-" ? context.stdin : createReadStream(file);
      const progress = createProgress(context.stderr, {
        total,
        unit: "lines",
        enabled: context.values["no-progress"] !== true,
      });
      const summary = await importMemories(
        context.client(),
        createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }),
        {
          batchSize,
          onProgress: (done) => progress.update(done),
        },
      );
      progress.finish(summary.lines);
      print(context, { file, ...summary }, () =>
        [
          `${file}: ${summary.lines} lines, ${summary.stored} stored, ${summary.deduplicated} deduplicated, ${summary.rejected.length} rejected${summary.blank ? `, ${summary.blank} blank` : ""}`,
          ...summary.rejected.map((rejected) => `line ${rejected.line}: ${rejected.reason}`),
        ].join("\n"),
      );
      return summary.rejected.length > 0 ? EXIT.partial : EXIT.ok;
    },
  },
];

/** Lines in the file (for the percentage and ETA): a fast pass over its bytes. */
async function countLines(file: string): Promise<number> {
  try {
    if (!(await stat(file)).isFile()) throw new UsageError(`${file} is not a file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(file)) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
    if (bytes.length) last = bytes[bytes.length - 1] ?? 10;
  }
  // A last line without a newline still counts.
  return last === 10 ? lines : lines + 1;
}
