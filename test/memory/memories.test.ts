import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rows } from "../../db/client";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import { contentHash, insertMemories, normaliseContent } from "../../functions/memory/memories";
import { describeEachDatabase } from "../support/databases";
import { seedWorkspace } from "../support/http";

const provider = new LexicalHashEmbeddingProvider({ dimensions: 768 });

it("normalises content for dedup: NFC, whitespace collapsed, trimmed, case kept", () => {
  expect(normaliseContent("  Caf\u0065\u0301 \t au\n\n lait  ")).toBe("Caf\u00e9 au lait");
  expect(contentHash("a  b")).toBe(contentHash(" a\nb "));
  expect(contentHash("US")).not.toBe(contentHash("us"));
});

describeEachDatabase("memory store (domain)", (db) => {
  it("inserts, deduplicates within a batch and against stored memories", async () => {
    const { database } = db();
    const { workspaceId, userId } = await seedWorkspace(database);
    const actor = { workspaceId, userId };
    const first = await database.withTenant(actor, (tx) =>
      insertMemories(tx, actor, [{ content: "The deploy key lives in the vault" }, { content: " The deploy key  lives in the vault\n" }], {
        provider,
      }),
    );
    expect(first.map((m) => m.deduplicated)).toEqual([false, true]);
    expect(first[0]!.id).toBe(first[1]!.id);
    expect(first[0]!.embeddingDims).toBe(768);
    expect(first[0]!.embeddingModel).toBe(provider.model);
    const again = await database.withTenant(actor, (tx) =>
      insertMemories(tx, actor, [{ content: "The deploy key lives in the vault" }, { content: "Something new", type: "CONTEXT" }], { provider }),
    );
    expect(again[0]).toMatchObject({ id: first[0]!.id, deduplicated: true });
    expect(again[1]).toMatchObject({ deduplicated: false, type: "CONTEXT" });
    const [{ count }] = await database.withTenant(actor, (tx) =>
      rows<{ count: number }>(tx, sql`select count(*)::int as count from memories where workspace_id = ${workspaceId}`),
    );
    expect(count).toBe(2);
  });
});
