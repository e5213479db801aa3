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

  it("refuses, at lookup, a name that resolves to a non-public address", async () => {
    const lookup = (hostname: string) =>
      new Promise<string>((resolve, reject) =>
        publicOnlyLookup(hostname, {}, (error, address) => (error ? reject(error) : resolve(address as string))),
      );
    await expect(lookup("localhost")).rejects.toThrow(
      /localhost resolves to (127\.0\.0\.1|::1), which is not a public address/,
    );
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
        /localhost resolves to .*, which is not a public address/,
      );
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
