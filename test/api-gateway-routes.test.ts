import { describe, expect, it } from "vitest";
import { type GatewayRoute, parseRouteKey, selectRoute } from "./support/api-gateway-routes";

const routes = (...keys: string[]): GatewayRoute<string>[] => keys.map((key) => ({ key, target: key }));
const select = (table: GatewayRoute<string>[], method: string, path: string) =>
  selectRoute(table, method, path)?.target;

describe("API Gateway HTTP API route selection", () => {
  // The example table of AWS's "Routing API requests" documentation.
  const aws = routes("GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default");

  it("prefers a full match, then a path variable, then a greedy variable", () => {
    expect(select(aws, "GET", "/pets/dog/1")).toBe("GET /pets/dog/1");
    expect(select(aws, "GET", "/pets/dog/2")).toBe("GET /pets/dog/{id}");
    expect(select(aws, "GET", "/pets/cat/1")).toBe("GET /pets/{proxy+}");
  });

  it("lets ANY take the methods a path has no route for, and $default the rest", () => {
    expect(select(aws, "POST", "/pets/dog/1")).toBe("ANY /{proxy+}");
    expect(select(aws, "GET", "/")).toBe("$default");
    expect(select(routes("GET /pets"), "GET", "/cats")).toBeUndefined();
  });

  it("prefers a specific method over ANY on the same path", () => {
    const table = routes("ANY /things", "POST /things");
    expect(select(table, "POST", "/things")).toBe("POST /things");
    expect(select(table, "DELETE", "/things")).toBe("ANY /things");
  });

  it("lets an exact route below a greedy prefix win, for its method only", () => {
    const table = routes("ANY /v1/connectors", "ANY /v1/connectors/{proxy+}", "POST /v1/connectors/{id}/events");
    expect(select(table, "POST", "/v1/connectors/abc/events")).toBe("POST /v1/connectors/{id}/events");
    expect(select(table, "GET", "/v1/connectors/abc/events")).toBe("ANY /v1/connectors/{proxy+}");
    expect(select(table, "GET", "/v1/connectors")).toBe("ANY /v1/connectors");
  });

  it("needs at least one segment for a greedy variable, and one per path variable", () => {
    const table = routes("ANY /v1/memories/{proxy+}", "GET /v1/things/{id}");
    expect(select(table, "GET", "/v1/memories")).toBeUndefined();
    expect(select(table, "GET", "/v1/memories/a/b/c")).toBe("ANY /v1/memories/{proxy+}");
    expect(select(table, "GET", "/v1/things/")).toBeUndefined();
    expect(select(table, "GET", "/v1/things/1/2")).toBeUndefined();
  });

  it("treats a colon inside a segment as part of a literal", () => {
    const table = routes("ANY /v1/memories", "ANY /v1/memories/{proxy+}", "POST /v1/memories:batch");
    expect(select(table, "POST", "/v1/memories:batch")).toBe("POST /v1/memories:batch");
    expect(select(table, "GET", "/v1/memories:batch")).toBeUndefined();
  });

  it("prefers the longest greedy prefix and ignores the query string", () => {
    const table = routes("ANY /{proxy+}", "ANY /v1/{proxy+}");
    expect(select(table, "GET", "/v1/x?limit=3")).toBe("ANY /v1/{proxy+}");
    expect(select(table, "GET", "/v2/x")).toBe("ANY /{proxy+}");
  });

  it("rejects route keys API Gateway would reject", () => {
    expect(() => parseRouteKey("GET pets")).toThrow();
    expect(() => parseRouteKey("FETCH /pets")).toThrow();
    expect(() => parseRouteKey("GET /{proxy+}/x")).toThrow();
    expect(parseRouteKey("$default")).toBe("$default");
  });
});
