import type { CairnAdapter } from "../cairn-adapter.js";
import type { BenchOptions, SectionName } from "./cli.js";
import type { Recorder } from "./results.js";

export interface SectionContext {
  options: BenchOptions;
  recorder: Recorder;
  cairn: CairnAdapter;
  /** performance.now() value by which the section should wrap up. */
  deadline: number;
  /** Notes that end up in the section's status line (e.g. "Cairn not wired"). */
  messages: string[];
  /** Set when a figure is missing or cut short; the section is then reported as partial. */
  partial: boolean;
  /** Set when an acceptance rule broke (e.g. a duplicate claim); the run exits non-zero. */
  failed: boolean;
}

export interface Section {
  name: SectionName;
  title: string;
  /** Time budgets in seconds; the run's whole budget is 15 minutes on a 2-core machine. */
  budgetSeconds: { quick: number; full: number };
  run(ctx: SectionContext): Promise<Record<string, unknown>>;
}
