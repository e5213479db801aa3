import type { Section } from "./lib/section.js";

/**
 * 6. API overhead: p50 of search and claim through the Hono app (`app.request`, in-process)
 * versus the domain call alone. Needs Cairn's apps and domain, so it waits for the adapter.
 */
export const apiSection: Section = {
  name: "api",
  title: "API overhead (Hono app.request vs domain call)",
  budgetSeconds: { quick: 20, full: 40 },
  async run(ctx) {
    if (!ctx.cairn.wired) {
      ctx.partial = true;
      ctx.messages.push("Cairn not wired");
      for (const scenario of ["search through app.request vs domain: p50", "claim through app.request vs domain: p50"]) {
        ctx.recorder.row({ section: "api", scenario, cairn: null, baseline: null, better: "lower", notes: "needs Cairn's app" });
      }
      return {};
    }
    // HOOK: timeEach over cairn.apiSearch vs cairn.searchVector, cairn.apiClaim vs cairn.domainClaim.
    throw new Error("api: Cairn adapter is wired but this section's measurement is not written yet");
  },
};
