/**
 * What the app knows about its own routes, for the two answers no single route can give:
 * a known path asked with a method it does not serve (405 with `Allow`), and a query parameter
 * the route does not declare (400: a misspelt `limt=5` must not be silently ignored).
 * Built once, from the routes as mounted (Hono's list) and their OpenAPI definitions
 * (the declared query schema), and matched with Hono's own router so a path means here what
 * it means to the app.
 */

import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";

interface RouteEntry {
  method: string;
  /** The declared query parameters; undefined when the route is not an OpenAPI route (not checked). */
  queryKeys?: ReadonlySet<string>;
}

/** The OpenAPI route definitions as @hono/zod-openapi's registry holds them. */
interface RegistryDefinition {
  type: string;
  route?: { method: string; path: string; request?: { query?: unknown } };
}

const MATCH_ANY = "ALL";

export interface RouteTable {
  /** The methods served at `path` (HEAD with GET, as Hono answers it), or none for an unknown path. */
  allowedMethods(path: string): string[];
  /** The query parameters of `method path` that its route does not declare (empty when unknown or fine). */
  unknownQueryKeys(method: string, path: string, keys: string[]): string[];
}

/** The keys of a zod object schema (the query schemas are plain objects), or undefined for anything else. */
function objectKeys(schema: unknown): string[] | undefined {
  const shape = (schema as { shape?: unknown } | undefined)?.shape;
  return shape && typeof shape === "object" ? Object.keys(shape) : undefined;
}

export function buildRouteTable(
  app: { routes: RouterRoute[] },
  definitions: readonly RegistryDefinition[],
): RouteTable {
  const router = new TrieRouter<RouteEntry>();
  const openApiRoutes = new Map<string, ReadonlySet<string>>();
  for (const definition of definitions) {
    if (definition.type !== "route" || !definition.route) continue;
    const { method, path, request } = definition.route;
    const keys = request?.query === undefined ? [] : objectKeys(request.query);
    if (keys === undefined) continue; // a query schema that is not a plain object: left to its validator
    openApiRoutes.set(`${method.toUpperCase()} ${path.replaceAll(/\/{(.+?)}/g, "/:$1")}`, new Set(keys));
  }
  const seen = new Set<string>();
  for (const route of app.routes) {
    // Middleware (and `all` handlers, which answer every method themselves) are registered as ALL.
    if (route.method === MATCH_ANY) continue;
    const id = `${route.method} ${route.path}`;
    if (seen.has(id)) continue;
    seen.add(id);
    // Stored under ALL so that one lookup finds every method served at a path.
    router.add(MATCH_ANY, route.path, { method: route.method, queryKeys: openApiRoutes.get(id) });
  }
  const entries = (path: string): RouteEntry[] => router.match(MATCH_ANY, path)[0].map(([entry]) => entry);

  return {
    allowedMethods(path) {
      const methods = new Set(entries(path).map((entry) => entry.method));
      if (methods.has("GET")) methods.add("HEAD");
      return [...methods].sort();
    },
    unknownQueryKeys(method, path, keys) {
      if (keys.length === 0) return [];
      const asked = method === "HEAD" ? "GET" : method;
      const served = entries(path).filter((entry) => entry.method === asked);
      // Not one of ours (or not an OpenAPI route): nothing to hold it to.
      if (served.length === 0 || served.some((entry) => entry.queryKeys === undefined)) return [];
      return keys.filter((key) => !served.some((entry) => entry.queryKeys?.has(key)));
    },
  };
}
