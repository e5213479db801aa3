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
