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

export function configureNeonForProxy(proxyPort: number, proxyHost = "127.0.0.1"): void {
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (host: string, port: number | string) => `${proxyHost}:${proxyPort}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
  neonConfig.pipelineTLS = false;
}
