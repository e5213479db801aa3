import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../functions/openapi-document";
import { handler } from "../functions/platform/handler";

describe("the OpenAPI document", () => {
  const committed = JSON.parse(readFileSync("functions/platform/openapi.json", "utf8"));

  it("committed for the platform Lambda matches the routes (run `npm run openapi` when this fails)", () => {
    expect(JSON.parse(JSON.stringify(openApiDocument()))).toEqual(committed);
  });

  it("documents every context and is what the platform Lambda serves", async () => {
    const paths = Object.keys(committed.paths);
    for (const path of [
      "/v1/workspaces",
      "/v1/work-orders",
      "/v1/approvals/{id}/decisions",
      "/v1/memories/search",
      "/v1/events",
    ]) {
      expect(paths).toContain(path);
    }
    const response: { statusCode: number; body: string } = await handler(
      {
        version: "2.0",
        routeKey: "GET /openapi.json",
        rawPath: "/openapi.json",
        rawQueryString: "",
        headers: {},
        requestContext: {
          http: {
            method: "GET",
            path: "/openapi.json",
            sourceIp: "127.0.0.1",
            protocol: "HTTP/1.1",
            userAgent: "test",
          },
        },
        isBase64Encoded: false,
      } as never,
      {} as never,
    );
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual(committed);
  });
});
