import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A valid admin key for the spawned server's first workspace (`cairn_<12 hex>_<32 base64url>`). */
export const KEY = "cairn_5dcafe5dcafe_sdktestsdktestsdktestsdktest0123";

export interface Cairn {
  url: string;
  key: string;
  /** The server's output so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * `npm start` as a user runs it (functions/local.ts under tsx) on an in-memory PGlite, with
 * the sweeper every 500 ms so expired leases are reaped quickly.
 */
export async function startCairn(env: Record<string, string> = {}): Promise<Cairn> {
  const port = await freePort();
  let output = "";
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "functions/local.ts"], {
    env: {
      ...process.env,
      LOG_LEVEL: "warn",
      PORT: String(port),
      DATABASE_URL: "pglite:memory",
      CAIRN_API_KEY: KEY,
      CAIRN_SCHEDULE_SWEEPER_MS: "500",
      CAIRN_SCHEDULE_TIERING_MS: "0",
      CAIRN_SCHEDULE_EVENTS_MS: "0",
      CAIRN_SCHEDULE_DEAD_LETTERS_MS: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${output}`);
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`server did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    key: KEY,
    log: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
