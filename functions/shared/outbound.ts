/**
 * Outbound HTTP to a destination a workspace chose (approval webhooks). A workspace admin must
 * not be able to make Cairn's functions call into the network they run in (SSRF): a cloud
 * metadata endpoint, the VPC, localhost. So, by default, a destination whose address is not a
 * public one is refused, and the check is made on the address the connection actually uses:
 * the DNS answer, inside the connect (a name that resolves to a public address when it is
 * saved and to a private one later is refused too). An IP literal in the URL is checked before
 * any connection is made.
 *
 * `CAIRN_WEBHOOK_PRIVATE_ADDRESSES=allow` lifts the rule (a private deployment whose receivers
 * live in its own network; `npm start`, where a receiver on localhost is the point).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

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
  ["fc00::", 7], // unique local (AWS's IPv6 metadata endpoint is fd00:ec2::254)
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["2001:db8::", 32], // documentation
] as const) {
  notPublic.addSubnet(network, prefix, "ipv6");
}

/** True for a public unicast IP address; false for anything else, a host name included. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  // IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are checked against the IPv4 ranges.
  return family !== 0 && !notPublic.check(address, family === 6 ? "ipv6" : "ipv4");
}

export function privateAddressesAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[PRIVATE_ADDRESSES_ENV] === "allow";
}

/** For the local entry points (`npm start`, `npm run job`): private destinations allowed unless configured otherwise. */
export function allowPrivateAddressesByDefault(env: NodeJS.ProcessEnv = process.env): void {
  env[PRIVATE_ADDRESSES_ENV] ??= "allow";
}

function refusal(host: string, address: string): string {
  const subject = host === address ? address : `${host} resolves to ${address}, which`;
  return `refused: ${subject} is not a public address (${PRIVATE_ADDRESSES_ENV}=allow permits it)`;
}

export class DestinationRefused extends Error {
  constructor(host: string, address: string) {
    super(refusal(host, address));
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
    return refusal(parsed.hostname, "a loopback address");
  }
  const literal = ipLiteral(parsed);
  return literal && !isPublicAddress(literal) ? refusal(literal, literal) : undefined;
}

/** `lookup` for a socket: resolves as usual, then refuses the connection if any answer is not public. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 0);
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) return callback(new DestinationRefused(hostname, refused.address), "", 0);
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
  if (!allowed && literal && !isPublicAddress(literal)) return Promise.reject(new DestinationRefused(literal, literal));
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
