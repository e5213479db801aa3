/**
 * Point the Neon serverless driver (`@neondatabase/serverless`) at a local
 * WebSocket-to-TCP proxy (see `scripts/ws-proxy.ts`), so code that uses the
 * Neon driver's `Pool`/`Client` can talk to a plain local Postgres.
 *
 * This mutates the global `neonConfig`; call it once, before creating pools.
 * Only the WebSocket transport (`Pool`, `Client`) is covered: the HTTP `neon()`
 * query function needs Neon's HTTP endpoint and does not go through this proxy.
 */
import { neonConfig } from "@neondatabase/serverless";
import WebSocket from "ws";
import { UserError } from "./user-error";

export function configureNeonForProxy(proxyPort: number, proxyHost = "127.0.0.1"): void {
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (host: string, port: number | string) => `${proxyHost}:${proxyPort}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
  neonConfig.pipelineTLS = false;
}

/**
 * `CAIRN_NEON_PROXY=<host>:<port>` (e.g. `127.0.0.1:4444`, where `npm run db:proxy` listens):
 * `npm start` then runs the production Neon driver against a local Postgres. Throws a
 * sentence when the value is not a host and port.
 */
export function configureNeonProxyFromEnv(value: string): void {
  const match = /^(.+):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port > 0 && port < 65536)) {
    throw new UserError(`CAIRN_NEON_PROXY must be <host>:<port> (where npm run db:proxy listens), not "${value}"`);
  }
  configureNeonForProxy(port, match[1]);
}
