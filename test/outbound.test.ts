import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isPublicAddress,
  PRIVATE_ADDRESSES_ENV,
  postToDestination,
  publicOnlyLookup,
  refusedDestination,
} from "../functions/shared/outbound";

const deny = {};
const allow = { [PRIVATE_ADDRESSES_ENV]: "allow" };

describe("outbound destinations", () => {
  it("tells public addresses from loopback, private, link-local and other special ones", () => {
    for (const address of ["8.8.8.8", "1.1.1.1", "52.94.236.248", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    }
    for (const address of [
      "127.0.0.1",
      "127.1.2.3",
      "10.0.0.5",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fd00:ec2::254",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "example.com",
    ]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    }
    // Next to private ranges, but public.
    expect(isPublicAddress("172.32.0.1")).toBe(true);
    expect(isPublicAddress("11.0.0.1")).toBe(true);
  });

  it("refuses IP literals and localhost that are not public when a URL is saved, unless allowed", () => {
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "https://[::1]/hook",
      "http://169.254.169.254/latest/meta-data",
      "http://localhost:3000/x",
      "http://api.localhost/x",
    ]) {
      expect({ url, refused: refusedDestination(url, deny) }).toEqual({
        url,
        refused: expect.stringMatching(/is not a public address/),
      });
      expect(refusedDestination(url, allow)).toBeUndefined();
    }
    // Names are resolved when a delivery connects, not when the URL is saved.
    expect(refusedDestination("https://hooks.example.com/cairn", deny)).toBeUndefined();
    expect(refusedDestination("https://93.184.215.14/cairn", deny)).toBeUndefined();
  });

  it("refuses, at lookup, a name that resolves to a non-public address, without saying what it resolved to", async () => {
    const lookup = (hostname: string) =>
      new Promise<string>((resolve, reject) =>
        publicOnlyLookup(hostname, {}, (error, address) => (error ? reject(error) : resolve(address as string))),
      );
    const refused = await lookup("localhost").then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refused).toMatchObject({
      name: "DestinationRefused",
      message: expect.stringMatching(/^refused: localhost /),
    });
    // What a name resolves to inside the deployment stays in the server log: the message is stored where the workspace reads it.
    expect(refused?.message).not.toMatch(/127\.0\.0\.1|::1|\d+\.\d+\.\d+\.\d+/);
  });

  // Other spellings of the deployment's own addresses: IPv6 forms that embed an IPv4 address.
  const embeddedSpellings = [
    "::7f00:1", // IPv4-compatible (::/96), 127.0.0.1
    "::127.0.0.1",
    "::a9fe:a9fe", // 169.254.169.254
    "::ffff:0:7f00:1", // SIIT, IPv4-translated (::ffff:0:0:0/96)
    "::ffff:0:a00:5", // 10.0.0.5
    "64:ff9b::a9fe:a9fe", // NAT64 (64:ff9b::/96) of 169.254.169.254
    "64:ff9b::7f00:1",
    "64:ff9b::10.0.0.5",
    "64:ff9b:1::808:808", // local-use NAT64 (64:ff9b:1::/48): never global
    "2002:a9fe:a9fe::", // 6to4 (2002::/16) of 169.254.169.254
    "2002:7f00:1::1",
    "2002:c0a8:101::1", // 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo (2001::/32)
  ];

  it("refuses IPv6 spellings that embed an IPv4 address unless that address is public", () => {
    for (const address of embeddedSpellings) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
      const url = `http://[${address}]:8080/hook`;
      expect({ url, refused: refusedDestination(url, deny) }).toEqual({
        url,
        refused: expect.stringMatching(/is not a public address/),
      });
    }
    // The same forms around a public IPv4 address reach that address: still allowed.
    for (const address of ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111"]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
      expect(refusedDestination(`https://[${address}]/hook`, deny)).toBeUndefined();
    }
  });

  describe("posting", () => {
    let server: Server;
    let port = 0;
    const received: string[] = [];
    let respond = true;
    beforeAll(async () => {
      server = createServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => (body += chunk));
        request.on("end", () => {
          received.push(body);
          if (respond) response.writeHead(202).end("accepted");
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const post = (url: string, env: NodeJS.ProcessEnv, timeoutMs = 5_000) =>
      postToDestination(url, { headers: { "content-type": "application/json" }, body: '{"n":1}', timeoutMs, env });

    it("delivers to a private receiver only when allowed, and never connects to a refused one", async () => {
      received.length = 0;
      respond = true;
      await expect(post(`http://127.0.0.1:${port}/hook`, deny)).rejects.toThrow(/127\.0\.0\.1 is not a public address/);
      // A name is refused at connect time, on its DNS answer.
      await expect(post(`http://localhost:${port}/hook`, deny)).rejects.toThrow(
        /^refused: localhost does not resolve to a public address/,
      );
      // Refused before any connection is made (a refusal, not a network error such as ENETUNREACH).
      for (const address of embeddedSpellings) {
        await expect(post(`http://[${address}]:${port}/hook`, deny)).rejects.toMatchObject({
          name: "DestinationRefused",
          message: expect.stringMatching(/is not a public address/),
        });
      }
      expect(received).toEqual([]);
      expect(await post(`http://127.0.0.1:${port}/hook`, allow)).toBe(202);
      expect(await post(`http://localhost:${port}/hook`, allow)).toBe(202);
      expect(received).toEqual(['{"n":1}', '{"n":1}']);
    });

    it("gives up on a receiver that does not answer in time", async () => {
      respond = false;
      await expect(post(`http://127.0.0.1:${port}/slow`, allow, 200)).rejects.toThrow("timed out after 200 ms");
      respond = true;
    });
  });
});
