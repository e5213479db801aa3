/**
 * A small structured logger: one JSON object per line on stdout (CloudWatch parses it).
 * Level from LOG_LEVEL (debug, info, warn, error; default info; "silent" for tests).
 */
const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = Exclude<keyof typeof levels, "silent">;

function threshold(): number {
  const configured = process.env.LOG_LEVEL as keyof typeof levels | undefined;
  return levels[configured ?? "info"] ?? levels.info;
}

function write(level: Level, msg: string, fields?: Record<string, unknown>) {
  if (levels[level] < threshold()) return;
  const line = JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }, (_key, value) =>
    value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value,
  );
  process.stdout.write(`${line}\n`);
}

export const logger = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};
