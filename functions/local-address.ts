/**
 * Where `npm start` listens. Loopback by default: the local server prints an admin key and lets
 * webhooks reach private addresses, which only the person at this machine should get. `HOST`
 * opens it up (`HOST=0.0.0.0` for every interface, e.g. in a container).
 */
import type { AddressInfo } from "node:net";
import { createServer, isIPv6 } from "node:net";
import { UserError } from "../db/user-error";

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 3000;

export function listenAddress(env: NodeJS.ProcessEnv = process.env): ListenAddress {
  const host = env.HOST?.trim() || DEFAULT_HOST;
  const port = env.PORT?.trim() ? Number(env.PORT) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UserError(`PORT=${env.PORT} is not a port number (0 to 65535).`);
  }
  return { host, port };
}

/** Whether only this machine can reach the address: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Refuses (UserError) when the address cannot be bound, before the database is opened or
 * anything else starts: a busy port otherwise surfaced as an unhandled EADDRINUSE after the
 * migrations and the scheduler had run. The probe binds and closes at once.
 */
export async function ensureCanListen(address: ListenAddress): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen({ host: address.host, port: address.port, exclusive: true }, () => probe.close(() => resolve()));
  }).catch((error: unknown) => {
    throw listenError(error, address);
  });
}

/** The sentence for a failed listen (also for the real server, should the port be taken between probe and listen). */
export function listenError(error: unknown, { host, port }: ListenAddress): unknown {
  const where = hostPort({ address: host, port });
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case "EADDRINUSE":
      return new UserError(
        `Cannot start Cairn: ${where} is already in use by another process; stop it, or choose another port, e.g. PORT=${port > 0 && port < 65_535 ? port + 1 : DEFAULT_PORT + 1} npm start.`,
      );
    case "EACCES":
      return new UserError(
        `Cannot start Cairn: this user may not listen on ${where} (ports below 1024 need privileges); choose another port, e.g. PORT=${DEFAULT_PORT} npm start.`,
      );
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new UserError(
        `Cannot start Cairn: HOST=${host} is not an address of this machine; use 127.0.0.1 (the default) or 0.0.0.0 for every interface.`,
      );
    default:
      return error;
  }
}

/**
 * The base URL a person on this machine can use: the bound address itself, or loopback when
 * the server listens on every interface (0.0.0.0 or ::).
 */
export function baseUrl(address: Pick<AddressInfo, "address" | "port">): string {
  const host = address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
  return `http://${isIPv6(host) ? `[${host}]` : host}:${address.port}`;
}

/** `127.0.0.1:3000`, `[::1]:3000`. */
export function hostPort(address: Pick<AddressInfo, "address" | "port">): string {
  return `${isIPv6(address.address) ? `[${address.address}]` : address.address}:${address.port}`;
}
