import type { Section } from "./lib/section.js";

/**
 * 3. Hybrid search: one hybrid statement (Cairn's reciprocal rank fusion) versus the
 * vector-only search, and versus text and vector as two round trips fused in the client.
 * Everything here is Cairn's search on Cairn's table, so it waits for the adapter.
 */
export const hybridSection: Section = {
  name: "hybrid",
  title: "Hybrid search vs vector-only vs two round trips",
  budgetSeconds: { quick: 30, full: 60 },
  async run(ctx) {
    if (!ctx.cairn.wired) {
      ctx.partial = true;
      ctx.messages.push("Cairn not wired");
      for (const scenario of ["hybrid vs vector-only: p50", "hybrid vs text+vector in two round trips: p50"]) {
        ctx.recorder.row({ section: "hybrid", scenario, cairn: null, baseline: null, better: "lower", notes: "needs Cairn's search" });
      }
      return {};
    }
    // HOOK: load the vector section's dataset with content text through cairn.loadMemories,
    // then time cairn.searchHybrid, cairn.searchVector, and
    // (cairn.searchText; cairn.searchVector; fuse with RRF in JS) for the same queries.
    throw new Error("hybrid: Cairn adapter is wired but this section's measurement is not written yet");
  },
};
