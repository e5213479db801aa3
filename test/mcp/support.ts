/**
 * Reaching Cairn's MCP server the ways clients do, with the SDK's own client: Streamable HTTP
 * in-process (the app's fetch), Streamable HTTP to a spawned `npm start`, and stdio through the
 * bridge. Plus the REST calls the scenarios need (keys, members, decisions).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import type { Router } from "../../functions/shared/app";

/** The API's error body (tool errors carry the same). */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** A parsed response; `T` is what the test expects to read (not checked: assertions do that). */
export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** A REST call: method, path, the key to send and a JSON body. */
export type Api = <T = Record<string, unknown>>(
  method: string,
  path: string,
  key?: string,
  body?: unknown,
) => Promise<ApiResponse<T>>;

/** Where the MCP server is and how a client reaches it. */
export interface Target {
  name: string;
  api: Api;
  /** A connected MCP client acting with `key`. */
  connect(key: string): Promise<Client>;
  /** Closes every client `connect` opened. */
  close(): Promise<void>;
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

function apiOver(fetcher: FetchLike, base: string): Api {
  return async <T>(method: string, path: string, key?: string, body?: unknown): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetcher(new URL(path, base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

function clientSet(name: string, api: Api, open: (key: string) => Promise<Client>): Target {
  const clients: Client[] = [];
  return {
    name,
    api,
    connect: async (key) => {
      const client = await open(key);
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.splice(0).map((client) => client.close()));
    },
  };
}

const newClient = () => new Client({ name: "cairn-test", version: "1.0.0" });

function httpClientTransport(url: URL, key: string, fetcher?: FetchLike) {
  return new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
    ...(fetcher ? { fetch: fetcher } : {}),
  });
}

/** The app in-process: the SDK's HTTP client transport with the app's own fetch. */
export function inProcessTarget(app: Router): Target {
  const base = "http://cairn.test";
  const fetcher: FetchLike = async (url, init) => app.request(url.toString(), init);
  return clientSet("in-process", apiOver(fetcher, base), async (key) => {
    const client = newClient();
    await client.connect(httpClientTransport(new URL("/mcp", base), key, fetcher));
    return client;
  });
}

/** A server over the network: Streamable HTTP to `<base>/mcp`. */
export function httpTarget(base: string): Target {
  return clientSet("streamable-http", apiOver(fetch, base), async (key) => {
    const client = newClient();
    await client.connect(httpClientTransport(new URL("/mcp", base), key));
    return client;
  });
}

/**
 * `cairn mcp` (the CLI's stdio bridge, sdk/src/mcp-bridge.ts) in its own process, as a desktop
 * client starts it; `env` is all its configuration (never the developer's own profile file).
 */
export function bridgeTransport(env: Record<string, string>): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: ["node_modules/.bin/cairn", "mcp"],
    cwd: process.cwd(),
    env: { ...getDefaultEnvironment(), CAIRN_CONFIG: "/nonexistent/cairn-config.json", ...env },
    stderr: "pipe",
  });
}

/** `cairn mcp` pointed at `base`. */
export function stdioTarget(base: string): Target {
  return clientSet("stdio-bridge", apiOver(fetch, base), async (key) => {
    const client = newClient();
    await client.connect(bridgeTransport({ CAIRN_URL: base, CAIRN_API_KEY: key }));
    return client;
  });
}

/** A tool's answer; `T` is what the test expects to read in its JSON (checked by assertions). */
export interface ToolOutcome<T> {
  isError: boolean;
  body: T;
}

/** Calls a tool and parses its one text content as JSON. */
export async function callTool<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  options: { onprogress?: (progress: Progress) => void; timeout?: number } = {},
): Promise<ToolOutcome<T>> {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  const content = result.content as Array<{ type: string; text?: string }>;
  if (content.length !== 1 || content[0]?.type !== "text" || content[0].text === undefined) {
    throw new Error(`${name} answered ${JSON.stringify(result)}`);
  }
  return { isError: result.isError === true, body: JSON.parse(content[0].text) };
}

/** A key of the admin's own user with these scopes. */
export async function createKey(api: Api, adminKey: string, scopes: string[]): Promise<string> {
  const created = await api<{ key: string }>("POST", "/v1/api-keys", adminKey, {
    name: `key ${scopes.join(" ")}`,
    scopes,
  });
  if (created.status !== 201) throw new Error(`creating a key: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.key;
}

let people = 0;
/**
 * A second person in the workspace with their own key: today a member added by the admin plus
 * a key for them. (Membership is moving to invitations; this is the one place to change.)
 */
export async function addPerson(
  api: Api,
  adminKey: string,
  role: string,
  scopes: string[],
): Promise<{ userId: string; key: string }> {
  people += 1;
  const email = `person-${people}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.test`;
  const invited = await api<{ member: { userId: string }; invitation: { secret: string } }>(
    "POST",
    "/v1/members",
    adminKey,
    { email, name: `Person ${people}`, role },
  );
  if (invited.status !== 201) throw new Error(`inviting a member: ${invited.status} ${JSON.stringify(invited.body)}`);
  const key = await api<{ key: string }>("POST", "/v1/invitations/accept", undefined, {
    secret: invited.body.invitation.secret,
    name: `key of ${email}`,
    scopes,
  });
  if (key.status !== 201) throw new Error(`redeeming an invitation: ${key.status} ${JSON.stringify(key.body)}`);
  return { userId: invited.body.member.userId, key: key.body.key };
}

/** Another workspace (created by the admin) and its admin key. */
export async function createWorkspace(api: Api, adminKey: string): Promise<string> {
  const created = await api<{ apiKey: { key: string } }>("POST", "/v1/workspaces", adminKey, {
    name: `other ${Date.now()}`,
  });
  if (created.status !== 201)
    throw new Error(`creating a workspace: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.apiKey.key;
}

export interface SpawnedServer {
  base: string;
  log: () => string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** `npm start` as a user runs it (tsx functions/local.ts), on an in-memory PGlite. */
export async function startServer(adminKey: string): Promise<SpawnedServer> {
  const port = await freePort();
  let output = "";
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "functions/local.ts"], {
    env: {
      ...process.env,
      LOG_LEVEL: "info",
      PORT: String(port),
      DATABASE_URL: "pglite:memory",
      CAIRN_API_KEY: adminKey,
      CAIRN_SCHEDULER: "off",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  for (let i = 0; i < 240 && !output.includes("cairn listening"); i++) {
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!output.includes("cairn listening")) {
    child.kill();
    throw new Error(`server did not start:\n${output}`);
  }
  return {
    base: `http://127.0.0.1:${port}`,
    log: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
