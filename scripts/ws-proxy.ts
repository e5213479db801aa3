/**
 * A tiny WebSocket-to-TCP proxy so `@neondatabase/serverless` (Pool/Client)
 * can reach a local Postgres, like Neon's local-development guide does.
 *
 * Each WebSocket connection names its target in the query string:
 *   ws://127.0.0.1:4444/v1?address=127.0.0.1:5432
 * Only loopback targets are allowed (127.0.0.0/8, localhost, ::1); any other
 * target is refused with HTTP 403 before the upgrade.
 *
 * Run: `tsx scripts/ws-proxy.ts` (PORT env, default 4444), then configure the
 * driver with `configureNeonForProxy(port)` from `db/neon-local.ts`.
 */

import type { IncomingMessage } from "node:http";
import net from "node:net";
import { pathToFileURL } from "node:url";
import { type RawData, WebSocket, WebSocketServer } from "ws";

export interface WsProxy {
  port: number;
  close(): Promise<void>;
}

interface Target {
  host: string;
  port: number;
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  if (net.isIPv4(host)) return host.startsWith("127.");
  return false;
}

/** Parse `host:port`, `[v6]:port` or `v6:port`; null when malformed. */
export function parseTarget(address: string | null): Target | null {
  if (!address) return null;
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(address);
  if (bracketed?.[1] && bracketed[2]) {
    host = bracketed[1];
    portText = bracketed[2];
  } else {
    const i = address.lastIndexOf(":");
    if (i <= 0) return null;
    host = address.slice(0, i);
    portText = address.slice(i + 1);
  }
  if (!/^\d+$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  return { host, port };
}

function targetOf(req: IncomingMessage): Target | null {
  const url = new URL(req.url ?? "/", "http://proxy.invalid");
  const target = parseTarget(url.searchParams.get("address"));
  if (!target || !isLoopback(target.host)) return null;
  return target;
}

export function startWsProxy(opts: { port?: number; host?: string } = {}): Promise<WsProxy> {
  const host = opts.host ?? "127.0.0.1";
  const sockets = new Set<net.Socket>();

  const wss = new WebSocketServer({
    host,
    port: opts.port ?? 0,
    perMessageDeflate: false,
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, msg?: string) => void) => {
      if (targetOf(info.req)) done(true);
      else done(false, 403, "target must be a loopback host:port");
    },
  });

  wss.on("connection", (client: WebSocket, req: IncomingMessage) => {
    const target = targetOf(req);
    if (!target) {
      client.close(1008, "forbidden target");
      return;
    }
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    sockets.add(socket);

    let closed = false;
    const shutdown = () => {
      if (closed) return;
      closed = true;
      sockets.delete(socket);
      socket.destroy();
      if (client.readyState === WebSocket.OPEN || client.readyState === WebSocket.CONNECTING) {
        client.close();
      }
      // Make sure a half-dead peer does not keep the connection around.
      setTimeout(() => client.terminate(), 1000).unref();
    };

    socket.on("data", (chunk: Buffer) => {
      if (client.readyState === WebSocket.OPEN) client.send(chunk, { binary: true });
    });
    // net.Socket buffers writes made before the TCP connection is established.
    client.on("message", (data: RawData) => {
      if (closed) return;
      if (Array.isArray(data)) for (const part of data) socket.write(part);
      else socket.write(Buffer.from(data as ArrayBuffer));
    });

    socket.on("error", shutdown);
    socket.on("close", shutdown);
    client.on("error", shutdown);
    client.on("close", shutdown);
  });

  return new Promise<WsProxy>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    wss.once("error", onError);
    wss.once("listening", () => {
      wss.off("error", onError);
      const address = wss.address();
      const port = typeof address === "object" && address ? address.port : Number(address);
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const client of wss.clients) client.terminate();
            for (const socket of sockets) socket.destroy();
            sockets.clear();
            wss.close(() => done());
          }),
      });
    });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const port = Number(process.env.PORT ?? 4444);
  const host = process.env.HOST ?? "127.0.0.1";
  const proxy = await startWsProxy({ port, host });
  console.log(`ws-proxy listening on ws://${host}:${proxy.port}/v1?address=<loopback-host>:<port>`);
  const stop = () => {
    void proxy.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
