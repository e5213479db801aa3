import { mulberry32, seededUuid } from "./random.js";
import type { ClusteredVectors } from "./vectors.js";

/** A memory as the generators make it. */
export interface BenchMemory {
  id: string;
  workspaceId: string;
  content: string;
  embedding: Float32Array;
  metadata: Record<string, unknown>;
}

/**
 * Memories with text that agrees with their embeddings: each cluster owns a small
 * vocabulary, so a cluster's memories share words and full-text search finds roughly the
 * same neighbourhood that vector search does (which is what makes hybrid search testable).
 */
const syllables = [
  "ka",
  "lo",
  "mi",
  "ren",
  "tas",
  "vo",
  "qui",
  "dex",
  "ul",
  "bra",
  "sen",
  "tor",
  "pi",
  "gan",
  "fe",
  "zu",
];

function word(rand: () => number): string {
  const n = 2 + Math.floor(rand() * 2);
  let w = "";
  for (let i = 0; i < n; i++) w += syllables[Math.floor(rand() * syllables.length)];
  return w;
}

export class MemoryGenerator {
  private readonly rand: () => number;
  private readonly vocab: string[][];
  private readonly common: string[];

  constructor(
    private readonly vectors: ClusteredVectors,
    seed = 7,
  ) {
    this.rand = mulberry32(seed);
    this.vocab = vectors.centroids.map(() => Array.from({ length: 12 }, () => word(this.rand)));
    this.common = Array.from({ length: 200 }, () => word(this.rand));
  }

  next(workspaceId: string): BenchMemory & { cluster: number } {
    const { vector, cluster } = this.vectors.next();
    const words: string[] = [];
    const length = 12 + Math.floor(this.rand() * 20);
    for (let i = 0; i < length; i++) {
      const own = this.rand() < 0.35;
      const pool = own ? this.vocab[cluster] : this.common;
      words.push(pool[Math.floor(this.rand() * pool.length)]);
    }
    return {
      id: seededUuid(this.rand),
      workspaceId,
      content: words.join(" "),
      embedding: vector,
      metadata: { source: `s${Math.floor(this.rand() * 100)}` },
      cluster,
    };
  }

  /** Two of the cluster's own words: a text query that should land in that cluster. */
  queryText(cluster: number): string {
    const v = this.vocab[cluster];
    return `${v[Math.floor(this.rand() * v.length)]} ${v[Math.floor(this.rand() * v.length)]}`;
  }
}
