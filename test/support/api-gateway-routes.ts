/**
 * API Gateway HTTP API route selection, as a pure function, so tests can ask "which
 * integration would this request reach?" without deploying.
 *
 * The rules (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html):
 * a route key is `METHOD /path` or `$default`; `{name}` matches one path segment and a
 * trailing `{name+}` (greedy) one or more; `ANY` matches every method the path has no
 * specific route for. The most specific match wins: a full match over a greedy one, a literal
 * segment over a variable, a specific method over `ANY`; `$default` catches the rest, and
 * without it the gateway answers 404.
 */

export interface GatewayRoute<T> {
  /** `GET /v1/things/{id}`, `ANY /v1/things/{proxy+}` or `$default`. */
  key: string;
  target: T;
}

type Segment = { kind: "literal"; value: string } | { kind: "variable" } | { kind: "greedy" };

interface ParsedRoute {
  method: string;
  segments: Segment[];
  greedy: boolean;
}

const METHODS = new Set(["ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]);

/** Parses a route key; throws on keys API Gateway would reject. */
export function parseRouteKey(key: string): ParsedRoute | "$default" {
  if (key === "$default") return key;
  const match = /^(\S+) (\/\S*)$/.exec(key);
  if (!match) throw new Error(`Invalid route key "${key}": expected "METHOD /path"`);
  const method = match[1]!;
  if (!METHODS.has(method)) throw new Error(`Invalid method in route key "${key}"`);
  const segments: Segment[] = splitPath(match[2]!).map((part) => {
    const variable = /^\{([A-Za-z0-9._-]+)(\+)?\}$/.exec(part);
    if (!variable) {
      if (/[{}]/.test(part)) throw new Error(`Invalid path segment "${part}" in route key "${key}"`);
      return { kind: "literal", value: part };
    }
    return variable[2] ? { kind: "greedy" } : { kind: "variable" };
  });
  const greedyAt = segments.findIndex((segment) => segment.kind === "greedy");
  if (greedyAt !== -1 && greedyAt !== segments.length - 1) {
    throw new Error(`Greedy variable must end the path in route key "${key}"`);
  }
  return { method, segments, greedy: greedyAt !== -1 };
}

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\//, "");
  return trimmed === "" ? [] : trimmed.split("/");
}

function pathMatches(route: ParsedRoute, parts: string[]): boolean {
  const fixed = route.greedy ? route.segments.length - 1 : route.segments.length;
  if (route.greedy ? parts.length <= fixed : parts.length !== fixed) return false;
  for (let i = 0; i < fixed; i++) {
    const segment = route.segments[i]!;
    const part = parts[i]!;
    if (segment.kind === "literal" ? segment.value !== part : part === "") return false;
  }
  // A greedy variable needs at least one non-empty segment.
  return !route.greedy || parts.slice(fixed).some((part) => part !== "");
}

/** Lower sorts first: full before greedy, longer greedy prefix first, literals before variables, method before ANY. */
function specificity(route: ParsedRoute): number[] {
  const fixed = route.segments.filter((segment) => segment.kind !== "greedy");
  return [
    route.greedy ? 1 : 0,
    route.greedy ? -fixed.length : 0,
    ...fixed.map((segment) => (segment.kind === "literal" ? 0 : 1)),
    route.method === "ANY" ? 1 : 0,
  ];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The route API Gateway would select for a request, or undefined (its 404). */
export function selectRoute<T>(routes: GatewayRoute<T>[], method: string, path: string): GatewayRoute<T> | undefined {
  const parts = splitPath(path.split("?")[0]!);
  const requestMethod = method.toUpperCase();
  let best: { route: GatewayRoute<T>; rank: number[] } | undefined;
  let fallback: GatewayRoute<T> | undefined;
  for (const route of routes) {
    const parsed = parseRouteKey(route.key);
    if (parsed === "$default") {
      fallback = route;
      continue;
    }
    if (parsed.method !== "ANY" && parsed.method !== requestMethod) continue;
    if (!pathMatches(parsed, parts)) continue;
    const rank = specificity(parsed);
    if (!best || compare(rank, best.rank) < 0) best = { route, rank };
  }
  return best?.route ?? fallback;
}
