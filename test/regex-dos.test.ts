/**
 * No catastrophic regex: a payload-schema `pattern` or a policy `regex` condition a workspace
 * saved, and one payload from a `work:write` key, must not freeze the server.
 */
import { expect, it } from "vitest";
import type { Router } from "../functions/shared/app";
import { describeEachDatabase } from "./support/databases";
import { call, seedWorkspace, testApp } from "./support/http";

/** 27 `a`s and a `!`: exponential backtracking for `^(a+)+$` and `^(a|a)+$` (seconds, doubling per extra `a`). */
const PATHOLOGICAL = `${"a".repeat(27)}!`;
/** Longer than any pattern a workspace may save. */
const TOO_LONG = "a".repeat(5000);

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

async function healthMs(app: Router): Promise<number> {
  const started = performance.now();
  const response = await app.request("/health");
  await response.text();
  return performance.now() - started;
}

/**
 * Runs `request` and, until it settles, one /health after another; returns its result and the
 * slowest /health. A regex that blocks the event loop holds up the /health in flight for as long.
 */
async function probeWhile<T>(app: Router, request: () => Promise<T>): Promise<{ result: T; slowestHealthMs: number }> {
  let settled = false;
  const running = request().finally(() => {
    settled = true;
  });
  const samples: number[] = [];
  do samples.push(await healthMs(app));
  while (!settled);
  return { result: await running, slowestHealthMs: Math.max(...samples) };
}

describeEachDatabase("catastrophic regex", (db) => {
  async function keys(app: Router, adminKey: string) {
    const key = async (scopes: string[]) => {
      const created = await call(app, "POST", "/v1/api-keys", {
        key: adminKey,
        body: { name: scopes.join(" "), scopes },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body.key as string;
    };
    return {
      platform: await key(["platform:write"]),
      approvals: await key(["approvals:write"]),
      work: await key(["work:write"]),
    };
  }

  /**
   * Compares the slowest /health while an order with the pathological payload is created with the
   * slowest /health while an order with a benign payload of the same shape is created (and with
   * /health on an idle server). The benign run is the baseline rather than the idle server alone:
   * on PGlite, one connection, a /health waits for any open transaction, regex or not.
   */
  async function expectNoFreeze(app: Router, key: string, type: string, expectedStatus: number) {
    const order = (s: string) => () =>
      call(app, "POST", "/v1/work-orders", { key, body: { title: "t", items: [{ type, payload: { s } }] } });
    for (let i = 0; i < 3; i++) await healthMs(app); // warm up
    const idle: number[] = [];
    for (let i = 0; i < 15; i++) idle.push(await healthMs(app));
    const benign: number[] = [];
    const pathological: number[] = [];
    for (let round = 0; round < 3; round++) {
      const calm = await probeWhile(app, order("aaaa"));
      expect(calm.result.status, JSON.stringify(calm.result.body)).toBe(201);
      benign.push(calm.slowestHealthMs);
      const attack = await probeWhile(app, order(PATHOLOGICAL));
      // The pathological request itself finishes, with its ordinary answer.
      expect(attack.result.status, JSON.stringify(attack.result.body)).toBe(expectedStatus);
      pathological.push(attack.slowestHealthMs);
    }
    const baseline = Math.max(median(idle), median(benign));
    const measured = { idleMs: median(idle), benignMs: median(benign), pathologicalMs: median(pathological) };
    expect(median(pathological) / baseline, JSON.stringify(measured)).toBeLessThan(5);
  }

  it("a payload-schema pattern does not freeze the server (nor a concurrent /health)", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const k = await keys(app, adminKey);
    const schema = await call(app, "POST", "/v1/schemas", {
      key: k.platform,
      body: {
        itemType: "REDOS",
        jsonSchema: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } },
      },
    });
    expect(schema.status, JSON.stringify(schema.body)).toBe(201);
    // 422: the payload does not match the schema, as before, only without the backtracking.
    await expectNoFreeze(app, k.work, "REDOS", 422);
  });

  it("a policy `regex` condition does not freeze the server (nor a concurrent /health)", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const k = await keys(app, adminKey);
    const policy = await call(app, "POST", "/v1/approval-policies", {
      key: k.approvals,
      body: {
        name: "redos",
        itemType: "REDOS",
        conditions: [{ field: "payload.s", operator: "regex", value: "^(a|a)+$" }],
        gate: "AFTER",
      },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    await expectNoFreeze(app, k.work, "REDOS", 201);
  });

  it("refuses at save time, with a 422 saying why, a pattern the linear-time engine cannot run or too long", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const k = await keys(app, adminKey);
    const schemaWith = (pattern: string) =>
      call(app, "POST", "/v1/schemas", {
        key: k.platform,
        body: { itemType: "X", jsonSchema: { type: "object", properties: { s: { type: "string", pattern } } } },
      });
    for (const [pattern, reason] of [
      ["^(a)\\1$", /backreference/],
      ["^a(?=b)", /lookahead/],
      ["(?<!a)b", /lookbehind/],
      [TOO_LONG, /longer than/],
    ] as const) {
      const response = await schemaWith(pattern);
      expect({ pattern, status: response.status, code: response.body.error?.code }).toEqual({
        pattern,
        status: 422,
        code: "invalid",
      });
      expect(response.body.error.message).toMatch(reason);
    }
    // patternProperties are patterns too.
    const keyed = await call(app, "POST", "/v1/schemas", {
      key: k.platform,
      body: { itemType: "X", jsonSchema: { type: "object", patternProperties: { "^(?=x)": { type: "string" } } } },
    });
    expect(keyed.status).toBe(422);
    expect((await call(app, "GET", "/v1/schemas?itemType=X", { key: adminKey })).body.items).toEqual([]);

    const policy = await call(app, "POST", "/v1/approval-policies", {
      key: k.approvals,
      body: { name: "lookaround", conditions: [{ field: "payload.s", operator: "regex", value: "^(?!a)" }] },
    });
    expect(policy.status).toBe(422);
    expect(policy.body.error.message + JSON.stringify(policy.body.error.details ?? "")).toMatch(/lookahead/);
  });

  it("still validates payloads against legitimate patterns", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const schema = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: {
        itemType: "INVOICE",
        jsonSchema: {
          type: "object",
          properties: {
            ref: { type: "string", pattern: "^INV-\\d{4}$" },
            city: { type: "string", pattern: "^\\p{Lu}" },
          },
          patternProperties: { "^x-": { type: "integer" } },
        },
      },
    });
    expect(schema.status, JSON.stringify(schema.body)).toBe(201);
    const order = (payload: Record<string, unknown>) =>
      call(app, "POST", "/v1/work-orders", {
        key: adminKey,
        body: { title: "t", items: [{ type: "INVOICE", payload }] },
      });
    expect((await order({ ref: "INV-2024", city: "Évry", "x-n": 1 })).status).toBe(201);
    const bad = await order({ ref: "INV-24", city: "évry", "x-n": "one" });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "/city",
      "/ref",
      "/x-n",
    ]);
  });
});
