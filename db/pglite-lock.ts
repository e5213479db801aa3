/**
 * One process at a time per PGlite data folder.
 *
 * PGlite is PostgreSQL compiled to WASM with no postmaster to arbitrate: two processes that
 * open one folder each believe they own it, read each other's stale pages and corrupt it (the
 * second one typically dies with `Aborted()`). So the first process to open a folder creates
 * `cairn.lock` in it with O_EXCL, holding its pid, command and start time, and every other
 * process is refused with one sentence naming the holder. The lock goes away when the database
 * is closed, when the process exits, and on SIGINT/SIGTERM/SIGHUP when nothing else handles
 * them. A lock left by a process that is gone (killed with -9, a crash, a reboot) is taken over.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative } from "node:path";
import { UserError } from "./user-error";

export const LOCK_FILE = "cairn.lock";

/** What the lock file holds. */
export interface LockHolder {
  pid: number;
  command: string;
  /** When the holder took the lock (ISO 8601). */
  since: string;
  host: string;
}

export interface PgliteFolderLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still this lock's; safe to call twice. */
  release(): void;
}

export class PgliteFolderLocked extends UserError {
  override name = "PgliteFolderLocked";
  constructor(
    readonly folder: string,
    readonly lockPath: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      holder
        ? `The PGlite data folder ${folder} is in use by process ${holder.pid} (${holder.command}) since ${holder.since}` +
            `${holder.host === hostname() ? "" : ` on host ${holder.host}`}: stop that process first, or use another folder with DATABASE_URL=pglite:<dir>.`
        : `The PGlite data folder ${folder} is locked by ${lockPath}, which names no process: if no Cairn process uses the folder, delete that file and try again.`,
    );
  }
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** A takeover (re-read, unlink, create) takes milliseconds; a guard file older than this was left by a crash. */
const TAKEOVER_GUARD_MAX_AGE_MS = 10_000;

/**
 * Takes the folder's lock or throws PgliteFolderLocked. The folder must exist. Synchronous on
 * purpose: it runs once per open, and a synchronous release is what an `exit` handler can do.
 */
export function lockPgliteFolder(folder: string): PgliteFolderLock {
  const path = join(folder, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    command: describeCommand(),
    since: new Date().toISOString(),
    host: hostname(),
  };
  for (let attempt = 0; attempt < 100; attempt++) {
    if (tryCreate(path, me)) return hold(path, me);
    const holder = readHolder(path);
    if (holder === "missing") continue; // released between our attempt and the read
    if (holder === "unreadable") throw new PgliteFolderLocked(displayPath(folder), path, undefined);
    if (isAlive(holder)) throw new PgliteFolderLocked(displayPath(folder), path, holder);
    takeOver(path, holder);
  }
  throw new Error(`could not lock ${folder}: ${path} kept changing`);
}

function tryCreate(path: string, me: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx"); // O_CREAT | O_EXCL: exactly one process creates it
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(me)}\n`);
  } catch (error) {
    unlinkQuietly(path); // an empty lock would lock everyone out
    throw error;
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Release functions of the locks this process holds; one set of exit and signal listeners serves them all. */
const held = new Set<() => void>();

function releaseAll(): void {
  for (const release of [...held]) release();
}

// A process with its own handler (npm start) shuts down, closes the database and so releases.
// Otherwise the signal would kill the process without an `exit` event: release, then die of
// the same signal as if we had not been listening.
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  releaseAll();
  process.kill(process.pid, signal);
}

function hold(path: string, me: LockHolder): PgliteFolderLock {
  const release = () => {
    if (!held.delete(release)) return;
    if (held.size === 0) {
      process.off("exit", releaseAll);
      for (const signal of SIGNALS) process.off(signal, onSignal);
    }
    try {
      const current = readHolder(path);
      // Only our own lock: never one that another process took over after us.
      if (typeof current === "object" && current.pid === me.pid && current.since === me.since) unlinkQuietly(path);
    } catch {
      // Unreadable folder (deleted, permissions): nothing left to release, and an exit handler must not throw.
    }
  };
  if (held.size === 0) {
    process.on("exit", releaseAll);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  held.add(release);
  return { path, holder: me, release };
}

function readHolder(path: string): LockHolder | "missing" | "unreadable" {
  // The creator writes right after creating; give a half-written file a moment.
  for (let attempt = 0; attempt < 10; attempt++) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return "missing";
      throw error;
    }
    const parsed = parseHolder(text);
    if (parsed) return parsed;
    sleepSync(20);
  }
  return "unreadable";
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isInteger(value.pid) && typeof value.since === "string" && typeof value.host === "string") {
      return { pid: Number(value.pid), command: String(value.command ?? "?"), since: value.since, host: value.host };
    }
  } catch {
    // empty or half-written
  }
  return undefined;
}

/** Whether the process that wrote the lock still runs (another host's processes are assumed to). */
export function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  const since = Date.parse(holder.since);
  if (holder.pid === process.pid) {
    // Our pid, but the lock is older than this process: a previous process had the same pid
    // (containers restart with small, reused pids).
    return !processStartedAfter(Date.now() - process.uptime() * 1000, since);
  }
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return errorCode(error) === "EPERM"; // exists, owned by someone else
  }
  const started = startTimeOf(holder.pid);
  return started === undefined || !processStartedAfter(started, since);
}

/** A process that started after the lock was written cannot be the one that wrote it. */
function processStartedAfter(startMs: number, sinceMs: number): boolean {
  return Number.isFinite(sinceMs) && startMs > sinceMs + 1000; // clock-tick rounding and skew
}

/** Start time (epoch ms) of a process, from /proc on Linux; undefined elsewhere. */
function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 is the start time in clock ticks (100 a second) after boot; field 2 may hold spaces.
    const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    const started = (bootSeconds + startTicks / 100) * 1000;
    return Number.isFinite(started) ? started : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a dead holder's lock. Two processes may find the same dead holder; the guard file
 * (O_EXCL again) lets one at a time re-read the lock and unlink it only if it still names that
 * holder, so nobody removes a lock someone else has just taken. The caller then competes for
 * the lock with O_EXCL like anyone else.
 */
function takeOver(path: string, stale: LockHolder): void {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, "wx");
  } catch (error) {
    if (errorCode(error) !== "EEXIST") throw error;
    if (ageMs(guard) > TAKEOVER_GUARD_MAX_AGE_MS) unlinkQuietly(guard);
    else sleepSync(20);
    return;
  }
  try {
    const current = readHolder(path);
    if (typeof current === "object" && current.pid === stale.pid && current.since === stale.since) unlinkQuietly(path);
  } finally {
    closeSync(fd);
    unlinkQuietly(guard);
  }
}

/** The command to name in a refusal: `npm start`, `npm run job -- events`, or the script and its arguments. */
function describeCommand(): string {
  const [script = "node", ...args] = process.argv.slice(1).map(displayPath);
  const event = process.env.npm_lifecycle_event;
  // npm's variables are inherited by every child; only trust them when they describe this script.
  if (event && process.env.npm_lifecycle_script?.includes(script)) {
    const npm = event === "start" || event === "test" ? `npm ${event}` : `npm run ${event}`;
    return args.length > 0 ? `${npm} -- ${args.join(" ")}` : npm;
  }
  return ["node", script, ...args].join(" ");
}

function displayPath(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside && !inside.startsWith("..") && !inside.startsWith("/") ? inside : path;
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
