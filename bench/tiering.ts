import type { Section } from "./lib/section.js";

/** 7. Tiering: time for one tiering pass over 100,000 memories (quick: 20,000). */
export const tieringSection: Section = {
  name: "tiering",
  title: "Tiering 100,000 memories",
  budgetSeconds: { quick: 30, full: 90 },
  async run(ctx) {
    const count = ctx.options.quick ? 20_000 : 100_000;
    if (!ctx.cairn.wired) {
      ctx.partial = true;
      ctx.messages.push("Cairn not wired");
      ctx.recorder.row({ section: "tiering", scenario: `tier ${count.toLocaleString("en-US")} memories`, cairn: null, baseline: null, better: "lower", notes: "needs Cairn's tiering job" });
      return { count };
    }
    // HOOK: await cairn.prepareTiering(count); time await cairn.tier(); report seconds and memories/s.
    throw new Error("tiering: Cairn adapter is wired but this section's measurement is not written yet");
  },
};
