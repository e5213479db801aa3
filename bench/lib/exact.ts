/**
 * Exact top-k by cosine distance, brute force in JS over the very float32 values the
 * database stores: the ground truth recall is computed against. Rows are visited in blocks
 * that stay in cache while every query is scored against them, so the vectors stream from
 * memory once, not once per query.
 */
export class TopK {
  readonly ids: number[] = [];
  readonly dist: number[] = [];
  constructor(readonly k: number) {}
  push(id: number, d: number): void {
    const k = this.k;
    const n = this.ids.length;
    if (n === k && d >= this.dist[k - 1]) return;
    let pos = n === k ? k - 1 : n;
    while (pos > 0 && this.dist[pos - 1] > d) {
      this.dist[pos] = this.dist[pos - 1];
      this.ids[pos] = this.ids[pos - 1];
      pos--;
    }
    this.dist[pos] = d;
    this.ids[pos] = id;
  }
}

/**
 * For each query and each filter (a function from row to filter index, or -1 for none of
 * them), the k nearest rows by cosine distance. Returns row numbers, nearest first.
 */
export function exactTopK(
  data: Float32Array,
  dim: number,
  rows: number,
  queries: Float32Array[],
  filters: number,
  filterOf: (row: number) => number[],
  k: number,
): number[][][] {
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const off = r * dim;
    for (let j = 0; j < dim; j++) s += data[off + j] * data[off + j];
    norms[r] = Math.sqrt(s);
  }
  const qn = queries.map((q) => Math.sqrt(q.reduce((s, x) => s + x * x, 0)));
  const tops = Array.from({ length: filters }, () => queries.map(() => new TopK(k)));
  const rowFilters: number[][] = Array.from({ length: rows }, (_, r) => filterOf(r));
  const block = 128;
  for (let start = 0; start < rows; start += block) {
    const end = Math.min(rows, start + block);
    for (let qi = 0; qi < queries.length; qi++) {
      const q = queries[qi];
      for (let row = start; row < end; row++) {
        const fs = rowFilters[row];
        if (fs.length === 0) continue;
        const off = row * dim;
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += q[j] * data[off + j];
        const d = 1 - dot / (qn[qi] * norms[row]);
        for (const f of fs) tops[f][qi].push(row, d);
      }
    }
  }
  return tops.map((perQuery) => perQuery.map((t) => t.ids));
}
