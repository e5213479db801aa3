/** What a `cairn` subcommand is: a new command is one more entry in commands/index.ts. */
import type { CairnClient } from "../client.js";

export type OptionSpec = { type: "string" | "boolean"; short?: string; description: string };

export interface Command {
  /** The words that select it: `["dead-letters", "redrive"]`. */
  path: string[];
  summary: string;
  /** Positional arguments as shown in help: `<id>`. */
  args?: string;
  /** How many positionals it takes (default none). */
  positionals?: { min: number; max: number };
  options?: Record<string, OptionSpec>;
  /** Default true: resolve the URL and key before running. */
  needsApi?: boolean;
  run(context: CommandContext): Promise<number | undefined>;
}

export interface CommandContext {
  positionals: string[];
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** `--json`: one JSON document on stdout, nothing else there. */
  json: boolean;
  client(): CairnClient;
  profile: string | undefined;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Documented exit codes (`cairn --help` prints them); scripts can test them. */
export const EXIT = {
  ok: 0,
  /** The API answered an error, or it could not be reached. */
  api: 1,
  /** Bad arguments, missing configuration, unreadable input. */
  usage: 2,
  /** `memories import` finished but some lines were rejected (the others were stored). */
  partial: 3,
  interrupted: 130,
} as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A string option's value, or undefined. */
export function stringOption(context: CommandContext, name: string): string | undefined {
  const value = context.values[name];
  return typeof value === "string" ? value : undefined;
}

export function requiredOption(context: CommandContext, name: string): string {
  const value = stringOption(context, name);
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

/** Writes a result: JSON when `--json`, else the human text. */
export function print(context: CommandContext, value: unknown, human: () => string): void {
  context.stdout.write(context.json ? `${JSON.stringify(value, null, 2)}\n` : ensureNewline(human()));
}

const ensureNewline = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);

/** A plain aligned table (no colours: output is often piped). */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
