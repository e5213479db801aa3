/**
 * One process per PGlite data folder (db/pglite-lock.ts): a second process is refused with one
 * sentence naming the holder, a lock left by a process that is gone is taken over, and the
 * folder opens again once its holder has stopped. Real processes, real folders.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../db/client";
import { LOCK_FILE, type LockHolder, lockPgliteFolder, PgliteFolderLocked } from "../../db/pglite-lock";
import { migratedPgliteFolder } from "../support/databases";
import { freePort, runScript, spawnScript, stopProcess, waitForOutput } from "../support/processes";

const root = mkdtempSync(join(tmpdir(), "cairn-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
/** One PGlite folder for the whole file: initialising a new one costs seconds. */
const folder = join(root, "pgdata");
const lockPath = join(folder, LOCK_FILE);

const readLock = () => JSON.parse(readFileSync(lockPath, "utf8")) as LockHolder;
const writeLock = (holder: Partial<LockHolder>) =>
  writeFileSync(lockPath, JSON.stringify({ command: "npm start", host: hostname(), ...holder }));
const refusal = (holder: LockHolder) =>
  `The PGlite data folder ${folder} is in use by process ${holder.pid} (${holder.command}) since ${holder.since}: ` +
  "stop that process first, or use another folder with DATABASE_URL=pglite:<dir>.";

/** A pid that no process has: one of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

async function opensAndReleases() {
  const database = await connect(`pglite:${folder}`);
  expect(readLock().pid).toBe(process.pid);
  await database.close();
  expect(existsSync(lockPath)).toBe(false);
}

describe("PGlite data folder lock", () => {
  it("refuses a second process with who holds the folder; the folder opens again once the holder stops", async () => {
    await migratedPgliteFolder(folder);
    // `npm start` as npm runs it (npm's variables tell the lock how to name the command).
    const server = spawnScript("functions/local.ts", [], {
      DATABASE_URL: `pglite:${folder}`,
      PORT: String(await freePort()),
      CAIRN_SCHEDULER: "off",
      CAIRN_API_KEY: "cairn_0123456789ab_abcdefghijklmnopqrstuvwxyz012345",
      LOG_LEVEL: "info",
      npm_lifecycle_event: "start",
      npm_lifecycle_script: "tsx functions/local.ts",
    });
    try {
      await waitForOutput(server, "cairn listening");
      const holder = readLock();
      expect(holder).toMatchObject({ pid: server.pid, command: "npm start", host: hostname() });
      expect(Date.now() - Date.parse(holder.since)).toBeLessThan(120_000);

      // The job, the migrator and a second server: each refused with the same one sentence,
      // before touching the folder (no stack trace, no Aborted()).
      const env = { DATABASE_URL: `pglite:${folder}`, PORT: String(await freePort()) };
      const attempts = await Promise.all([
        runScript("scripts/job.ts", ["events"], env),
        runScript("scripts/migrate.ts", [], env),
        runScript("functions/local.ts", [], env),
      ]);
      for (const attempt of attempts) {
        expect(attempt.code).toBe(1);
        expect(attempt.stderr).toBe(`${refusal(holder)}\n`);
        expect(attempt.stdout).not.toMatch(/migrations applied|database ready|"ok"/);
      }
      // Anything calling connect() in another process is refused the same way.
      await expect(connect(`pglite:${folder}`)).rejects.toThrow(PgliteFolderLocked);
      await expect(connect(`pglite:${folder}`)).rejects.toThrow(refusal(holder));
      expect(readLock()).toEqual(holder); // the refusals left the holder's lock alone
    } finally {
      expect(await stopProcess(server)).toEqual({ code: 0, signal: null });
    }
    expect(existsSync(lockPath)).toBe(false);

    const job = await runScript("scripts/job.ts", ["events"], { DATABASE_URL: `pglite:${folder}` });
    expect(job.stderr).toBe("");
    expect(job.code).toBe(0);
    expect(JSON.parse(job.stdout)).toMatchObject({ job: "events", ok: true });
  });

  it("takes over a lock whose process is gone: killed with -9, exited, or a pid since reused", async () => {
    // kill -9 leaves the lock file behind; the next process takes it over and opens the folder.
    const holder = spawnScript("test/support/hold-pglite.ts", [folder]);
    await waitForOutput(holder, "ready");
    expect(readLock().pid).toBe(holder.pid);
    await stopProcess(holder, "SIGKILL");
    expect(readLock().pid).toBe(holder.pid);
    await opensAndReleases();

    const takesOver = () => {
      const lock = lockPgliteFolder(folder);
      expect(readLock()).toEqual(lock.holder);
      lock.release();
      expect(existsSync(lockPath)).toBe(false);
    };
    writeLock({ pid: deadPid(), since: new Date(Date.now() - 60_000).toISOString() });
    takesOver();
    // This very pid, from before this process started (a restarted container reuses pids).
    writeLock({ pid: process.pid, since: new Date(Date.now() - process.uptime() * 1000 - 60_000).toISOString() });
    takesOver();
    if (process.platform === "linux") {
      // A live pid whose process started after the lock was written (start times from /proc).
      const unrelated = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"]);
      try {
        writeLock({ pid: unrelated.pid, since: new Date(Date.now() - 3_600_000).toISOString() });
        takesOver();
        // ...while the same pid with a lock written after it started is alive: refused.
        writeLock({ pid: unrelated.pid, since: new Date(Date.now() + 5_000).toISOString() });
        expect(() => lockPgliteFolder(folder)).toThrow(PgliteFolderLocked);
        rmSync(lockPath);
      } finally {
        unrelated.kill("SIGKILL");
      }
    }
  });

  it("a process with no signal handler of its own releases the lock when SIGTERM or SIGINT stops it", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const holder = spawnScript("test/support/hold-pglite.ts", [folder]);
      await waitForOutput(holder, "ready");
      expect(readLock().pid).toBe(holder.pid);
      // Still stopped by the signal, as it would be without the lock's listener.
      expect(await stopProcess(holder, signal)).toEqual({ code: null, signal });
      expect(existsSync(lockPath)).toBe(false);
    }
  });

  it("in one process, a second open of the folder is refused too; an unreadable lock is never taken over", async () => {
    const first = lockPgliteFolder(folder);
    expect(() => lockPgliteFolder(folder)).toThrow(PgliteFolderLocked);
    first.release();
    first.release(); // twice is harmless
    expect(existsSync(lockPath)).toBe(false);

    writeFileSync(lockPath, "");
    expect(() => lockPgliteFolder(folder)).toThrow(
      `The PGlite data folder ${folder} is locked by ${lockPath}, which names no process: if no Cairn process uses the folder, delete that file and try again.`,
    );
    rmSync(lockPath);
    // Another machine's lock (a shared folder) cannot be checked, so it is respected.
    writeLock({ pid: deadPid(), host: "elsewhere", since: new Date().toISOString() });
    expect(() => lockPgliteFolder(folder)).toThrow(/on host elsewhere: stop that process first/);
    rmSync(lockPath);
  });
});
