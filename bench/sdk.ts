import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { allRouters } from "../functions/routers.js";
import { createApp } from "../functions/shared/app.js";
import { type CairnClient, createClient, createWorker } from "../sdk/src/index.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { now } from "./lib/stats.js";

/**
 * 8. SDK worker overhead: the same items processed over HTTP by `createWorker` (heartbeat
 * timers, events, fenced complete, claims sized to the free slots) and by a hand-written
 * fetch loop (claim one → complete, nothing else), with the same concurrency, against one
 * Cairn HTTP server in this process (`createApp` + `@hono/node-server`, the Neon driver
 * through the WS proxy). Runs alternate baseline, SDK, SDK, baseline so neither side
 * always gets the warmer or the fuller table. Handlers do no work: this is the runtime's cost.
 */
export const sdkSection: Section = {
  name: "sdk",
  title: "SDK worker vs a hand-written fetch loop (claim → complete over HTTP)",
  budgetSeconds: { quick: 60, full: 150 },
  async run(ctx) {
    const itemsPerRun = ctx.options.quick ? 300 : 1_500;
    const concurrency = 8;
    const database = await ctx.cairn.connectNeon(concurrency + 2);
    const app = createApp({ database: async () => database, routers: Object.values(allRouters) });
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((resolve) => server.once("listening", resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ws = await ctx.cairn.workspace("sdk");
      const client = createClient({ baseUrl, apiKey: ws.key });
      const runs: { side: "baseline" | "sdk"; items: number; seconds: number }[] = [];
      // Untimed warm-up of both paths (JIT, connections, the server's first requests).
      for (const [i, side] of (["warm-up", "baseline", "sdk", "sdk", "baseline"] as const).entries()) {
        const type = `${side}-${i}`;
        await client.POST("/v1/work-orders", {
          body: {
            title: `bench ${type}`,
            items: Array.from({ length: side === "warm-up" ? 100 : itemsPerRun }, (_, n) => ({ type, payload: { n } })),
          },
        });
        const t0 = now();
        if (side === "warm-up") {
          await fetchLoop(baseUrl, ws.key, type, concurrency);
          continue;
        }
        const done =
          side === "sdk"
            ? await sdkRun(client, type, itemsPerRun, concurrency)
            : await fetchLoop(baseUrl, ws.key, type, concurrency);
        runs.push({ side, items: done, seconds: (now() - t0) / 1000 });
        console.log(`  ${side} run ${i}: ${done} items in ${runs.at(-1)?.seconds.toFixed(2)} s`);
      }

      // The database decides: every item completed, each by exactly one attempt.
      const { rows } = await ctx.cairn.owner.query<{ items: number; completed: number; attempts: number }>(
        `select count(*)::int as items,
                count(*) filter (where i.status = 'COMPLETED')::int as completed,
                (select count(*)::int from attempts a where a.workspace_id = $1) as attempts
         from work_items i where i.workspace_id = $1`,
        [ws.workspaceId],
      );
      const check = rows[0] ?? { items: 0, completed: 0, attempts: 0 };
      if (check.completed !== check.items || check.attempts !== check.items) {
        ctx.failed = true;
        ctx.messages.push(`${check.items} items, ${check.completed} completed, ${check.attempts} attempts`);
      }
      const rate = (side: "baseline" | "sdk") => {
        const mine = runs.filter((r) => r.side === side);
        return mine.reduce((sum, r) => sum + r.items, 0) / mine.reduce((sum, r) => sum + r.seconds, 0);
      };
      const sdk = rate("sdk");
      const baseline = rate("baseline");
      console.log(`  SDK ${fmt(sdk)} items/s vs fetch loop ${fmt(baseline)} items/s`);
      ctx.recorder.row({
        section: "sdk",
        scenario: `createWorker (concurrency ${concurrency}) vs a fetch loop (${concurrency} × claim 1 → complete), same HTTP server`,
        cairn: { value: sdk, unit: "items/s", label: "@cairn/client worker" },
        baseline: { value: baseline, unit: "items/s", label: "hand-written fetch" },
        notes: `${runs.length} alternating runs of ${itemsPerRun} items after a warm-up; db: ${check.completed}/${check.items} completed, ${check.attempts} attempts`,
      });
      return { itemsPerRun, concurrency, runs, check };
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await database.close();
    }
  },
};

/** The SDK side: a worker until `items` completions, then a graceful stop. */
async function sdkRun(client: CairnClient, type: string, items: number, concurrency: number): Promise<number> {
  let completed = 0;
  const worker = createWorker({
    client,
    types: [type],
    concurrency,
    signals: false,
    poll: { minMs: 10, maxMs: 50 },
    handler: () => null,
  });
  const finished = new Promise<void>((resolve) => {
    worker.on("completed", () => {
      if (++completed === items) resolve();
    });
  });
  worker.on("error", ({ error }) => console.error("  sdk worker error:", error));
  worker.start();
  await finished;
  await worker.stop();
  return completed;
}

/** The baseline: what a user writes without the SDK. Each loop ends at its first empty claim. */
async function fetchLoop(baseUrl: string, key: string, type: string, concurrency: number): Promise<number> {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  let completed = 0;
  const loop = async (w: number) => {
    for (;;) {
      const { items } = (await post("/v1/work-items/claim", { workerId: `fetch-${w}`, types: [type], limit: 1 })) as {
        items: { id: string; attemptId: string; fencingToken: string }[];
      };
      const [item] = items;
      if (!item) return;
      await post(`/v1/work-items/${item.id}/complete`, { attemptId: item.attemptId, fencingToken: item.fencingToken });
      completed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w)));
  return completed;
}
