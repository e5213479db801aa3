/**
 * The stdio bridge: a desktop MCP client starts this process and speaks MCP on its stdin and
 * stdout; every message is forwarded, as is, to a Cairn server's `/mcp` over Streamable HTTP,
 * and everything the server answers (results, errors, progress notifications) comes back.
 * The server decides everything (tools, scopes, errors): the bridge holds no Cairn code, only
 * the MCP SDK and Node. `cairn mcp` runs it (cli/commands/mcp.ts):
 *
 *   CAIRN_URL=https://api.example.com CAIRN_API_KEY=cairn_… npx cairn mcp
 *
 * The key travels only in the Authorization header. stdout carries the protocol, so anything
 * the bridge has to say goes to stderr.
 */
import type { Readable, Writable } from "node:stream";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  ErrorCode,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
} from "@modelcontextprotocol/sdk/types.js";

export interface StdioBridgeOptions {
  /** The Cairn server: its base URL (`/mcp` is appended) or the `/mcp` URL itself. */
  url: string;
  apiKey: string;
  stdin?: Readable;
  stdout?: Writable;
  /** Where the bridge's own messages go (default: stderr). */
  log?: (line: string) => void;
}

export interface StdioBridge {
  /** The endpoint messages are forwarded to. */
  endpoint: URL;
  close(): Promise<void>;
}

/** The `/mcp` endpoint of a Cairn URL; refuses URLs that carry credentials. */
export function mcpEndpoint(url: string): URL {
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch {
    throw new Error(`CAIRN_URL is not a URL: ${url}`);
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
    throw new Error("CAIRN_URL must be an http:// or https:// URL");
  }
  if (endpoint.username || endpoint.password) {
    throw new Error("CAIRN_URL must not carry credentials: put the API key in CAIRN_API_KEY");
  }
  if (!endpoint.pathname.replace(/\/+$/, "").endsWith("/mcp")) {
    endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, "")}/mcp`;
  }
  return endpoint;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Starts forwarding between stdio and the server; resolves once both sides are listening. */
export async function startStdioBridge(options: StdioBridgeOptions): Promise<StdioBridge> {
  const log = options.log ?? ((line: string) => process.stderr.write(`cairn mcp: ${line}\n`));
  const endpoint = mcpEndpoint(options.url);
  const local = new StdioServerTransport(options.stdin, options.stdout);
  const remote = new StreamableHTTPClientTransport(endpoint, {
    requestInit: { headers: { Authorization: `Bearer ${options.apiKey}` } },
  });
  // The server is stateless, so the protocol version the client and server agreed on at
  // initialize must travel with every later request (the transport sends it as a header).
  const initializing = new Set<string | number>();

  remote.onmessage = (message) => {
    if (isJSONRPCResultResponse(message) && initializing.delete(message.id)) {
      const version = message.result.protocolVersion;
      if (typeof version === "string") remote.setProtocolVersion(version);
    }
    local.send(message).catch((error) => log(`could not write to stdout: ${messageOf(error)}`));
  };
  remote.onerror = (error) => log(`server stream: ${messageOf(error)}`);

  const forward = async (message: JSONRPCMessage) => {
    if (isJSONRPCRequest(message) && message.method === "initialize") initializing.add(message.id);
    try {
      await remote.send(message);
    } catch (error) {
      // Answer the client's request rather than leave it waiting: the server could not be
      // reached, or refused the request (a 401 says the key is wrong; the key is never shown).
      log(`${endpoint.origin}${endpoint.pathname}: ${messageOf(error)}`);
      if (isJSONRPCRequest(message)) {
        initializing.delete(message.id);
        await local.send({
          jsonrpc: "2.0",
          id: message.id,
          error: { code: ErrorCode.InternalError, message: `Cairn at ${endpoint.origin} failed: ${messageOf(error)}` },
        });
      }
    }
  };
  local.onmessage = (message) => {
    void forward(message);
  };
  local.onerror = (error) => log(`stdin: ${messageOf(error)}`);

  await remote.start();
  await local.start();
  if (endpoint.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(endpoint.hostname)) {
    log("warning: CAIRN_URL is plain http to another host; the API key crosses the network unencrypted");
  }
  log(`forwarding stdio to ${endpoint.origin}${endpoint.pathname}`);

  let closed = false;
  return {
    endpoint,
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.allSettled([local.close(), remote.close()]);
    },
  };
}
