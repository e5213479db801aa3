import { type Hook, OpenAPIHono } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { Database, Tx } from "../../db/client";
import { assertScopes, authenticate, authenticateKey, bearerKey, forgetKey, keyFailure } from "./auth";
import { DOCS_CSP, DOCS_SCRIPT_PATH, docsScript, renderDocsPage } from "./docs-page";
import type { AppEnv } from "./env";
import {
  AppError,
  BadRequest,
  fromDatabaseError,
  PayloadTooLarge,
  rootMessage,
  toErrorBody,
  Unauthorized,
} from "./errors";
import { logger } from "./logger";
import { finishDocument } from "./openapi-contract";
import { buildRouteTable, type RouteTable } from "./route-table";
import { validationIssues } from "./validation";

export type Router = OpenAPIHono<AppEnv>;

/** Schema validation failures are 400s with the zod issues as details (path, message), as everywhere else. */
const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) {
    throw new BadRequest(`The request ${result.target} is not valid`, validationIssues(result.error));
  }
};

/** A context's sub-app; `createApp` mounts it with the shared middleware. */
export const createRouter = (): Router => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/**
 * Runs `fn` in one transaction as the request's tenant (RLS applies), with optional extra
 * settings. The transaction's set-up checks the request's key again, in the round trip of its
 * first statement: a revoked key is a 401 and nothing ran. If the key's grants changed since this
 * process authenticated it, the request is authenticated afresh, its scopes checked again, and
 * `fn` runs once more (the first try rolled back); `fn` reads the actor from `c.var.actor`.
 */
export async function inTenant<T>(
  c: Context<AppEnv>,
  fn: (tx: Tx) => Promise<T>,
  settings?: Record<string, string>,
): Promise<T> {
  const credential = c.var.credential;
  const attempt = () => {
    const { workspaceId, userId } = c.var.actor;
    return c.var.database.withTenant({ workspaceId, userId, key: credential?.key }, fn, settings);
  };
  if (!credential) return attempt();
  try {
    const result = await attempt();
    credential.checked = true;
    return result;
  } catch (error) {
    const failure = keyFailure(error);
    if (!failure) throw error;
    forgetKey(credential.key.hash);
    if (failure === "invalid") throw new Unauthorized(rootMessage(error));
    const fresh = await authenticateKey(c.var.database, bearerKey(c.req.header("authorization")) ?? "");
    c.set("actor", fresh.actor);
    credential.key = fresh.key;
    assertScopes(fresh.actor, credential.requiredScopes);
    const result = await attempt();
    credential.checked = true;
    return result;
  }
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Bulk endpoints take up to Lambda's 6 MB payload limit. */
const BULK_BODY_LIMIT = 6 * 1024 * 1024;
const BULK_PATHS = new Set(["/v1/memories:batch", "/v1/events"]);
/**
 * Routes authenticated by something other than an API key: a connector's signature (event
 * intake), an invitation's secret (redeeming it).
 */
const KEYLESS_ROUTE = /^\/v1\/(connectors\/[^/]+\/events|invitations\/accept)$/;

export interface AppOptions {
  database: () => Promise<Database>;
  routers: Router[];
  /** Extra facts for /health (the embedding provider, say). */
  health?: () => Record<string, unknown>;
  /**
   * Serve this OpenAPI document instead of the one generated from `routers`: a Lambda that
   * holds one context documents the whole API (functions/platform/openapi.json).
   */
  document?: object | (() => Promise<object>);
}

export const OPENAPI_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "Cairn",
    version: "0.1.0",
    description:
      "Durable work orders with human approvals and dead letters, and a semantic memory, for teams that run AI agents. " +
      'Every `/v1` route takes `Authorization: Bearer <API key>`; errors are `{"error":{"code","message","details"}}`. ' +
      "A known path asked with a method it does not serve answers 405 with an `Allow` header; " +
      "an unknown query parameter is a 400.",
    license: { name: "UNLICENSED", identifier: "UNLICENSED" },
  },
  security: [{ apiKey: [] }],
};

/** The app's OpenAPI document: generated from its routes, then finished (openapi-contract.ts). */
export const apiDocument = (app: Router): object => finishDocument(app.getOpenAPI31Document(OPENAPI_CONFIG));

export function createApp(options: AppOptions): Router {
  const app = createRouter();

  app.use("*", requestId());
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    logger.info("request", {
      requestId: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });
  // The two limits' middleware is made once, not per request.
  const defaultLimit = limitBody(DEFAULT_BODY_LIMIT);
  const bulkLimit = limitBody(BULK_BODY_LIMIT);
  app.use("*", (c, next) => (BULK_PATHS.has(c.req.path) ? bulkLimit : defaultLimit)(c, next));
  // Only the API needs the database (/openapi.json and /docs answer without one); its API key is
  // checked in the same middleware, except on the keyless routes.
  app.use("/v1/*", async (c, next) => {
    c.set("database", await options.database());
    if (c.req.method === "POST" && KEYLESS_ROUTE.test(c.req.path)) return next();
    return authenticate(c, next);
  });
  // The route table is built on first use: by then every router (and local.ts's extra routes) is mounted.
  let table: RouteTable | undefined;
  const routeTable = () => {
    table ??= buildRouteTable(app, app.openAPIRegistry.definitions);
    return table;
  };
  // A query parameter the route does not declare is a mistake to report, not one to ignore.
  app.use("/v1/*", async (c, next) => {
    const url = c.req.url;
    // Without a query string there is nothing to parse.
    const keys = url.includes("?") ? [...new URL(url).searchParams.keys()] : [];
    const unknown = routeTable().unknownQueryKeys(c.req.method, c.req.path, [...new Set(keys)]);
    if (unknown.length > 0) {
      throw new BadRequest(
        `Unknown query parameter${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
        unknown.map((key) => ({ path: key, message: "This route takes no such query parameter" })),
      );
    }
    await next();
  });
  // The MCP endpoint is the API for agents: the same database and API-key authentication.
  app.use("/mcp", async (c, next) => {
    c.set("database", await options.database());
    return authenticate(c, next);
  });

  app.get("/health", async (c) => {
    const extra = options.health?.() ?? {};
    let driver: string | undefined;
    try {
      const database = await options.database();
      driver = database.kind;
      await database.db.execute(sql`select 1`);
      return c.json({ status: "ok", database: { status: "ok", driver }, ...extra });
    } catch (error) {
      logger.error("health check failed", { error });
      return c.json({ status: "degraded", database: { status: "unavailable", driver }, ...extra }, 503);
    }
  });

  for (const router of options.routers) app.route("/", router);

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `Authorization: Bearer cairn_…`",
  });
  // A loader (platform's Lambda) keeps the committed document out of the cold start.
  let generated: object | undefined;
  const document = async () => {
    generated ??=
      typeof options.document === "function" ? await options.document() : (options.document ?? apiDocument(app));
    return generated;
  };
  app.get("/openapi.json", async (c) => c.json(await document()));
  app.get("/docs", (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    return c.html(renderDocsPage(OPENAPI_CONFIG.info.title));
  });
  app.get(DOCS_SCRIPT_PATH, async (c) => {
    const script = await docsScript();
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "public, max-age=3600");
    c.header("Vary", "Accept-Encoding");
    if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
      c.header("Content-Encoding", "gzip");
      return c.body(script.gzipped as Uint8Array<ArrayBuffer>);
    }
    return c.body(script.plain as Uint8Array<ArrayBuffer>);
  });

  app.notFound((c) => {
    const allowed = routeTable().allowedMethods(c.req.path);
    if (allowed.length > 0) {
      c.header("Allow", allowed.join(", "));
      return c.json(
        toErrorBody(new AppError("method_not_allowed", `${c.req.method} is not served at ${c.req.path}`, { allowed })),
        405,
      );
    }
    return c.json(toErrorBody(new AppError("not_found", `No route for ${c.req.method} ${c.req.path}`)), 404);
  });
  app.onError((error, c) => {
    const known =
      error instanceof AppError
        ? error
        : error instanceof HTTPException
          ? fromHttpException(error)
          : fromDatabaseError(error);
    if (known) {
      if (known.code === "database_unavailable") {
        // The driver's own message: Drizzle's wrapper would add the statement's parameters.
        logger.warn("database unavailable", {
          requestId: c.var.requestId,
          path: c.req.path,
          error: rootMessage(error),
        });
      }
      if (known.retryAfterSeconds !== undefined) c.header("Retry-After", String(known.retryAfterSeconds));
      return c.json(toErrorBody(known), known.status);
    }
    logger.error("unhandled error", { requestId: c.var.requestId, path: c.req.path, error });
    return c.json(
      { error: { code: "internal", message: "Internal server error", details: { requestId: c.var.requestId } } },
      500,
    );
  });
  return app;
}

/** Hono's body limit as Cairn's 413. */
const limitBody = (limit: number) =>
  bodyLimit({
    maxSize: limit,
    onError: () => {
      throw new PayloadTooLarge(limit);
    },
  });

/** Hono's own rejections (a body that is not JSON, a wrong content type) in Cairn's vocabulary. */
function fromHttpException(error: HTTPException): AppError {
  if (error.status === 413) return new AppError("payload_too_large", error.message);
  if (error.status === 415) return new AppError("unsupported_media_type", error.message);
  return new BadRequest(error.message || "The request is malformed");
}
