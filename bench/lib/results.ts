import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SectionName } from "./cli.js";

/** One measured number. `label` says what produced it when that is not Cairn itself. */
export interface Figure {
  value: number;
  unit: string;
  label?: string;
}

export interface ResultRow {
  section: SectionName;
  scenario: string;
  /** Cairn's figure; null while Cairn's side is not wired into the benchmark. */
  cairn: Figure | null;
  baseline: Figure | null;
  /** cairn.value / baseline.value, computed when both exist. */
  ratio: number | null;
  better: "higher" | "lower";
  notes: string;
}

export interface SectionRecord {
  name: SectionName;
  status: "ok" | "partial" | "skipped" | "failed";
  seconds: number;
  message?: string;
  details: Record<string, unknown>;
}

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

export class Recorder {
  readonly rows: ResultRow[] = [];
  readonly sections: SectionRecord[] = [];

  constructor(readonly meta: Record<string, unknown>) {}

  row(r: Omit<ResultRow, "ratio" | "notes" | "better"> & { notes?: string; better?: "higher" | "lower" }): ResultRow {
    const ratio = r.cairn && r.baseline && r.baseline.value !== 0 ? r.cairn.value / r.baseline.value : null;
    const full: ResultRow = { ...r, ratio, better: r.better ?? "higher", notes: r.notes ?? "" };
    this.rows.push(full);
    console.log(`  ${formatRowLine(full)}`);
    return full;
  }

  section(s: SectionRecord): void {
    this.sections.push(s);
  }

  markdown(): string {
    const lines = [
      `# Cairn benchmark — ${String(this.meta.startedAt ?? "")}`,
      "",
      `Mode: ${this.meta.quick ? "quick" : "full"}; ${String(this.meta.machine ?? "")}; ${String(this.meta.postgres ?? "")}.`,
      "Ratio = Cairn / baseline, measured in the same run; the arrow says which direction is better.",
      "",
      "| scenario | Cairn | baseline | ratio | notes |",
      "| --- | --- | --- | --- | --- |",
    ];
    for (const r of this.rows) {
      lines.push(
        `| ${esc(`${r.section}: ${r.scenario}`)} | ${esc(cell(r.cairn, "not wired yet"))} | ${esc(cell(r.baseline, "—"))} | ${
          r.ratio === null ? "—" : `${fmt(r.ratio)}× ${r.better === "higher" ? "↑" : "↓"}`
        } | ${esc(r.notes)} |`,
      );
    }
    lines.push("", "| section | status | seconds | message |", "| --- | --- | --- | --- |");
    for (const s of this.sections) {
      lines.push(`| ${s.name} | ${s.status} | ${s.seconds.toFixed(1)} | ${esc(s.message ?? "")} |`);
    }
    return `${lines.join("\n")}\n`;
  }

  async write(): Promise<{ json: string; md: string }> {
    await mkdir(resultsDir, { recursive: true });
    const json = join(resultsDir, "latest.json");
    const md = join(resultsDir, "latest.md");
    const payload = { meta: this.meta, rows: this.rows, sections: this.sections };
    await writeFile(`${json}.tmp`, `${JSON.stringify(payload, null, 2)}\n`);
    await rename(`${json}.tmp`, json);
    await writeFile(md, this.markdown());
    return { json, md };
  }

  printTable(): void {
    const header = ["scenario", "Cairn", "baseline", "ratio", "notes"];
    const body = this.rows.map((r) => [
      `${r.section}: ${r.scenario}`,
      cell(r.cairn, "not wired yet"),
      cell(r.baseline, "—"),
      r.ratio === null ? "—" : `${fmt(r.ratio)}x ${r.better === "higher" ? "(higher better)" : "(lower better)"}`,
      r.notes,
    ]);
    const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...body.map((b) => b[i].length))));
    const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i])).join("  ");
    console.log(`\n${line(header)}`);
    console.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const b of body) console.log(line(b));
    console.log("");
    for (const s of this.sections) {
      console.log(
        `${s.name.padEnd(10)} ${s.status.padEnd(8)} ${s.seconds.toFixed(1).padStart(7)} s  ${s.message ?? ""}`,
      );
    }
  }
}

/** Three significant digits, no exponent for everyday magnitudes. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function cell(f: Figure | null, missing: string): string {
  if (!f) return missing;
  return `${fmt(f.value)} ${f.unit}${f.label ? ` (${f.label})` : ""}`;
}

function formatRowLine(r: ResultRow): string {
  const ratio = r.ratio === null ? "" : `  ratio ${fmt(r.ratio)}x`;
  return `${r.scenario}: Cairn ${cell(r.cairn, "not wired")} | baseline ${cell(r.baseline, "—")}${ratio}${r.notes ? `  [${r.notes}]` : ""}`;
}

function esc(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
