import { describe, expect, it } from "vitest";
import { createApp } from "../functions/shared/app";
import { call } from "./support/http";

describe("/health without a reachable database", () => {
  it("answers 503 with the database unavailable, not a 500", async () => {
    const app = createApp({ database: () => Promise.reject(new Error("connection refused")), routers: [] });
    const response = await call(app, "GET", "/health");
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: "degraded", database: { status: "unavailable" } });
  });
});

describe("database errors a client can cause", () => {
  it("map to 4xx, never 500", async () => {
    const { fromDatabaseError } = await import("../functions/shared/errors");
    const cases: Array<[string, number]> = [
      ["23505", 409],
      ["23503", 422],
      ["23514", 422],
      ["22P02", 400],
      ["22P05", 400],
      ["22021", 400],
      ["54001", 400],
      ["40001", 409],
    ];
    for (const [code, status] of cases) {
      // Drizzle wraps the driver's error in `cause`.
      expect(fromDatabaseError({ message: "failed query", cause: { code } })?.status, code).toBe(status);
    }
    expect(fromDatabaseError(new Error("boom"))).toBeUndefined();
  });

  it("a lost or refused connection is a retryable 503 database_unavailable, with a Retry-After", async () => {
    const { fromDatabaseError } = await import("../functions/shared/errors");
    const lost = [
      { message: "failed query", cause: { code: "57P01" } }, // terminated by an administrator
      { message: "failed query", cause: { code: "57P03" } }, // the server is starting up
      { message: "failed query", cause: { code: "08006" } }, // connection failure
      { message: "failed query", cause: new Error("Connection terminated unexpectedly") },
      { message: "failed query", cause: new Error("Client has encountered a connection error and is not queryable") },
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
    ];
    for (const error of lost) {
      const mapped = fromDatabaseError(error);
      expect(mapped?.code).toBe("database_unavailable");
      expect(mapped?.status).toBe(503);
      expect(mapped?.retryAfterSeconds).toBe(1);
    }
    // A query cancelled by statement_timeout (57014) is not a lost connection.
    expect(fromDatabaseError({ message: "failed query", cause: { code: "57014" } })).toBeUndefined();
  });
});
