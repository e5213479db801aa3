/**
 * Outbound HTTP to a destination a workspace chose (approval webhooks). A workspace admin must
 * not be able to make Cairn's functions call into the network they run in (SSRF): a cloud
 * metadata endpoint, the VPC, localhost. So, by default, a destination whose address is not a
 * public one is refused, and the check is made on the address the connection actually uses:
 * the DNS answer, inside the connect (a name that resolves to a public address when it is
 * saved and to a private one later is refused too). An IP literal in the URL is checked before
 * any connection is made.
 *
 * IPv6 forms that carry an IPv4 address are judged by that address (IPv4-mapped, NAT64, 6to4) or
 * refused outright where they cannot be a public destination (IPv4-compatible, SIIT, local-use
 * NAT64, Teredo), so `[::7f00:1]` or `[64:ff9b::a9fe:a9fe]` is not a way around the IPv4 rules.
 * A refusal names what the workspace gave (its URL's host), never what that name resolved to
 * inside the deployment: the message is stored where the workspace reads it (job errors, dead
 * letters), and the address goes to the server log only.
 *
 * `CAIRN_WEBHOOK_PRIVATE_ADDRESSES=allow` lifts the rule (a private deployment whose receivers
 * live in its own network; `npm start`, where a receiver on localhost is the point).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { logger } from "./logger";

export const PRIVATE_ADDRESSES_ENV = "CAIRN_WEBHOOK_PRIVATE_ADDRESSES";

/** Special-purpose ranges (RFC 6890 and friends): nothing a public webhook receiver lives in. */
const notPublic = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, the cloud metadata endpoints
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  notPublic.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["::", 96], // IPv4-compatible (deprecated, RFC 4291): ::7f00:1 is 127.0.0.1 to some stacks
  ["::ffff:0:0:0", 96], // SIIT, IPv4-translated (RFC 2765): ::ffff:0:7f00:1
  ["64:ff9b:1::", 48], // local-use IPv4/IPv6 translation (RFC 8215): a NAT64 of the deployment's own
  ["100::", 64], // discard-only
  ["2001::", 32], // Teredo: tunnels to an IPv4 address (obfuscated) through a relay
  ["2001:2::", 48], // benchmarking
  ["2001:db8::", 32], // documentation
  ["3fff::", 20], // documentation
  ["5f00::", 16], // segment routing (SRv6) SIDs
  ["fc00::", 7], // unique local (AWS's IPv6 metadata endpoint is fd00:ec2::254)
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  notPublic.addSubnet(network, prefix, "ipv6");
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part included), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 ? groups : undefined;
}

const ipv4Of = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/**
 * The IPv4 address an IPv6 address stands for where the network delivers it to that IPv4
 * address: IPv4-mapped (::ffff:a.b.c.d), the well-known NAT64 prefix (64:ff9b::a.b.c.d,
 * RFC 6052) and 6to4 (2002:AABB:CCDD::/48, RFC 3056). Other embedding ranges are refused whole.
 */
function embeddedIPv4(address: string): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = ipv6Groups(address) ?? [];
  const zeros = g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (g0 === 0 && zeros && g5 === 0xffff) return ipv4Of(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return ipv4Of(g6, g7);
  if (g0 === 0x2002 && g1 !== undefined && g2 !== undefined) return ipv4Of(g1, g2);
  return undefined;
}

/** True for a public unicast IP address; false for anything else, a host name included. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0 || notPublic.check(address, family === 6 ? "ipv6" : "ipv4")) return false;
  // An IPv6 address that carries an IPv4 one is public only if that IPv4 address is.
  const inner = family === 6 ? embeddedIPv4(address) : undefined;
  return inner === undefined || isPublicAddress(inner);
}

export function privateAddressesAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[PRIVATE_ADDRESSES_ENV] === "allow";
}

/** For the local entry points (`npm start`, `npm run job`): private destinations allowed unless configured otherwise. */
export function allowPrivateAddressesByDefault(env: NodeJS.ProcessEnv = process.env): void {
  env[PRIVATE_ADDRESSES_ENV] ??= "allow";
}

/** Why a destination is refused, in the workspace's own terms: never an address a name resolved to. */
function refusal(what: string): string {
  return `refused: ${what} (${PRIVATE_ADDRESSES_ENV}=allow permits it)`;
}

export class DestinationRefused extends Error {
  /** `host` as the URL has it: an IP literal that is not public, or a name that resolved to such an address. */
  constructor(host: string, kind: "literal" | "name") {
    super(
      refusal(kind === "literal" ? `${host} is not a public address` : `${host} does not resolve to a public address`),
    );
    this.name = "DestinationRefused";
  }
}

/** The URL's host when it is an IP literal (brackets of IPv6 removed), else undefined. */
function ipLiteral(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return isIP(host) ? host : undefined;
}

/**
 * Why a URL cannot be a webhook destination as it stands (an IP literal that is not public,
 * or `localhost`), or undefined. Other names are checked when a delivery connects.
 */
export function refusedDestination(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (privateAddressesAllowed(env) || !URL.canParse(url)) return undefined; // not a URL: the caller's own validation says so
  const parsed = new URL(url);
  if (parsed.hostname === "localhost" || parsed.hostname.endsWith(".localhost")) {
    return refusal(`${parsed.hostname} is not a public address`); // a loopback name
  }
  const literal = ipLiteral(parsed);
  return literal && !isPublicAddress(literal) ? refusal(`${literal} is not a public address`) : undefined;
}

/** `lookup` for a socket: resolves as usual, then refuses the connection if any answer is not public. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 0);
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) {
      // The address is for the operator's log; the error, stored where the workspace reads it, names the host only.
      logger.warn("outbound destination refused", { host: hostname, address: refused.address });
      return callback(new DestinationRefused(hostname, "name"), "", 0);
    }
    if (options.all) return (callback as unknown as (error: null, all: LookupAddress[]) => void)(null, addresses);
    const [first] = addresses;
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
    return callback(null, first.address, first.family);
  });
};

export class RequestTimedOut extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * POSTs `body` to `url` and resolves with the response status (the response body is drained
 * and dropped). Redirects are not followed. Rejects on a refused destination, a network
 * error, or when the whole exchange takes longer than `timeoutMs`.
 */
export function postToDestination(url: string, options: PostOptions): Promise<number> {
  const target = new URL(url);
  const client = target.protocol === "https:" ? https : target.protocol === "http:" ? http : undefined;
  if (!client) return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
  const allowed = privateAddressesAllowed(options.env);
  // A socket does not look up an IP literal, so the lookup below would never see it.
  const literal = ipLiteral(target);
  if (!allowed && literal && !isPublicAddress(literal))
    return Promise.reject(new DestinationRefused(literal, "literal"));
  const guard = allowed ? {} : { lookup: publicOnlyLookup };

  return new Promise<number>((resolve, reject) => {
    const request = client.request(target, {
      method: "POST",
      headers: { ...options.headers, "content-length": String(Buffer.byteLength(options.body)) },
      ...guard,
    });
    const timer = setTimeout(() => request.destroy(new RequestTimedOut(options.timeoutMs)), options.timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    request.on("error", fail);
    request.on("response", (response) => {
      response.on("error", fail);
      response.on("end", () => {
        clearTimeout(timer);
        resolve(response.statusCode ?? 0);
      });
      response.resume();
    });
    request.end(options.body);
  });
}
