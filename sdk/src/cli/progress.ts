/** A progress line on stderr: a redrawn bar on a terminal, plain lines (at most one a second) otherwise. */

export interface Progress {
  update(done: number): void;
  finish(done: number): void;
}

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  options: { total?: number; unit: string; enabled: boolean; now?: () => number },
): Progress {
  const now = options.now ?? (() => performance.now());
  const started = now();
  let last = Number.NEGATIVE_INFINITY;
  let shown = -1;
  const tty = Boolean(stream.isTTY);
  const interval = tty ? 100 : 1000;

  const line = (done: number) => {
    const seconds = Math.max((now() - started) / 1000, 1e-3);
    const rate = done / seconds;
    const total = options.total;
    const parts: string[] = [];
    if (total) {
      const share = Math.min(1, done / total);
      const width = 24;
      const filled = Math.round(share * width);
      if (tty) parts.push(`[${"#".repeat(filled)}${"-".repeat(width - filled)}]`);
      parts.push(`${Math.round(share * 100)}%`, `${done}/${total} ${options.unit}`);
    } else {
      parts.push(`${done} ${options.unit}`);
    }
    parts.push(`${Math.round(rate)} ${options.unit}/s`);
    if (total) parts.push(`ETA ${formatSeconds(rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY)}`);
    return parts.join("  ");
  };

  const write = (done: number, final: boolean) => {
    if (!options.enabled) return;
    const t = now();
    if (!final && t - last < interval) return;
    // The final line is not repeated when the last update already showed the same count (plain output).
    if (final && !tty && done === shown) return;
    last = t;
    shown = done;
    stream.write(tty ? `\r\x1b[K${line(done)}${final ? "\n" : ""}` : `progress: ${line(done)}\n`);
  };

  return { update: (done) => write(done, false), finish: (done) => write(done, true) };
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${Math.round(seconds % 60)}s` : `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
