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
});
