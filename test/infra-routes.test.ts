/**
 * Every route the context apps serve is reachable through the API Gateway routes that
 * infra/api.ts deploys (from functions/contexts.ts), and reaches the Lambda of a context
 * that serves it. Adding a route to an app without a route key for it fails here, not in
 * production as the gateway's bare 404.
 */
import { describe, expect, it } from "vitest";
import { type ContextName, contexts } from "../functions/contexts";
import { allRouters } from "../functions/routers";
import { createApp, createRouter, type Router } from "../functions/shared/app";
import { type GatewayRoute, parseRouteKey, selectRoute } from "./support/api-gateway-routes";

const contextNames = Object.keys(contexts) as ContextName[];

/** The gateway's routes, as infra/api.ts creates them: each key to its context's Lambda. */
const gatewayRoutes: GatewayRoute<ContextName>[] = contextNames.flatMap((context) =>
  contexts[context].routes.map((key) => ({ key, target: context })),
);

/** Each Lambda's app, as its handler builds it: the shared kit around the context's routes. */
const noDatabase = async () => {
  throw new Error("no database in a routing test");
};
const deployedApp = (router: Router) => createApp({ database: noDatabase, routers: [router] });

interface AppRoute {
  method: string;
  path: string;
}

/** Routes an app answers (middleware registered with `use` is not a route). */
function routesOf(app: Router): AppRoute[] {
  const seen = new Map<string, AppRoute>();
  for (const { method, path } of app.routes) {
    if (method === "ALL" && path.endsWith("*")) continue;
    seen.set(`${method} ${path}`, { method: method === "ALL" ? "ANY" : method, path });
  }
  return [...seen.values()];
}

/** A request path that a Hono route path matches: parameters and wildcards get sample values. */
function samplePath(honoPath: string): string {
  return honoPath
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "sample-id" : segment === "*" ? "sample" : segment))
    .join("/");
}

/** Routes the gateway sends nowhere, or to a Lambda whose app does not serve them. */
function misroutedRoutes(apps: Record<ContextName, Router>): string[] {
  const served = Object.fromEntries(
    contextNames.map((context) => [context, new Set(routesOf(apps[context]).map((r) => `${r.method} ${r.path}`))]),
  ) as Record<ContextName, Set<string>>;
  const problems: string[] = [];
  for (const owner of contextNames) {
    for (const route of routesOf(apps[owner])) {
      const method = route.method === "ANY" ? "GET" : route.method;
      const selected = selectRoute(gatewayRoutes, method, samplePath(route.path));
      const label = `${route.method} ${route.path} (${owner})`;
      if (!selected) problems.push(`${label}: no API Gateway route; add one to functions/contexts.ts`);
      else if (!served[selected.target].has(`${route.method} ${route.path}`)) {
        problems.push(`${label}: API Gateway sends it to ${selected.target} by "${selected.key}"`);
      }
    }
  }
  return problems;
}

const deployedApps = () =>
  Object.fromEntries(contextNames.map((context) => [context, deployedApp(allRouters[context])])) as Record<
    ContextName,
    Router
  >;

describe("API Gateway routes (functions/contexts.ts) against the context apps", () => {
  it("has valid, unique route keys", () => {
    const keys = gatewayRoutes.map((route) => route.key);
    for (const key of keys) expect(() => parseRouteKey(key)).not.toThrow();
    expect(keys.length).toBe(new Set(keys).size);
  });

  it("reaches every route of every app, at a context that serves it", () => {
    const apps = deployedApps();
    // Not vacuous: the contexts' own routers contribute routes, not just the shared kit.
    expect(contextNames.flatMap((context) => routesOf(allRouters[context])).length).toBeGreaterThan(0);
    expect(misroutedRoutes(apps)).toEqual([]);
  });

  it("sends each context's own routes to its own Lambda", () => {
    for (const context of contextNames) {
      for (const route of routesOf(allRouters[context])) {
        const method = route.method === "ANY" ? "GET" : route.method;
        expect(
          selectRoute(gatewayRoutes, method, samplePath(route.path))?.target,
          `${route.method} ${route.path}`,
        ).toBe(context);
      }
    }
  });

  it("notices a route added to an app without a route key", () => {
    const apps = deployedApps();
    const extra = createRouter();
    extra.get("/v1/unmapped/:id", (c) => c.body(null, 204));
    extra.post("/v1/connectors/:id/retry", (c) => c.body(null, 204));
    const withExtra = { ...apps, memory: deployedApp(createRouter().route("/", allRouters.memory).route("/", extra)) };
    const before = misroutedRoutes(apps);
    const after = misroutedRoutes(withExtra);
    expect(after.filter((problem) => !before.includes(problem))).toEqual([
      'GET /v1/unmapped/:id (memory): API Gateway sends it to platform by "$default"',
      'POST /v1/connectors/:id/retry (memory): API Gateway sends it to platform by "ANY /v1/connectors/{proxy+}"',
    ]);
  });
});
