/**
 * Cairn's entry points as real child processes (started with tsx, as the npm scripts do), for
 * tests of what a person at a terminal sees: output, exit codes, signals.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface Spawned {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --import tsx <script> …args` with the test's environment plus `env`. */
export function spawnScript(
  script: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
): Spawned {
  let stdout = "";
  let stderr = "";
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  return { child, pid: child.pid, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Waits until the process prints `text` (stdout or stderr); fails if it exits first or takes too long. */
export async function waitForOutput(spawned: Spawned, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!spawned.stdout().includes(text) && !spawned.stderr().includes(text)) {
    if (spawned.child.exitCode !== null || spawned.child.signalCode !== null || Date.now() > deadline) {
      spawned.child.kill("SIGKILL");
      throw new Error(
        `no "${text}" from the process:\n--- stdout\n${spawned.stdout()}\n--- stderr\n${spawned.stderr()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs a script to its end. */
export async function runScript(script: string, args: string[] = [], env: Record<string, string | undefined> = {}) {
  const spawned = spawnScript(script, args, env);
  const { code, signal } = await spawned.exited;
  return { code, signal, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

export async function stopProcess(spawned: Spawned, signal: NodeJS.Signals = "SIGTERM") {
  if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill(signal);
  return spawned.exited;
}

/** A port nothing listens on right now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
