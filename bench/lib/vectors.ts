import { gaussian, mulberry32 } from "./random.js";

/**
 * Synthetic embeddings that behave like real ones for nearest-neighbour search:
 * points gather around k random centroids, so a query's true neighbours are its
 * cluster-mates and recall measures something. Uniform random vectors in 768
 * dimensions would all be nearly equidistant, which flatters no index and tests nothing.
 */
export interface ClusteredVectorsOptions {
  dimensions: number;
  clusters: number;
  /** Standard deviation of the per-coordinate noise around a centroid, before normalising. */
  spread: number;
  seed: number;
}

export const defaultVectorOptions: ClusteredVectorsOptions = {
  dimensions: 768,
  clusters: 256,
  // Centroid coordinates are N(0,1); noise of 0.6 keeps clusters distinct but overlapping.
  spread: 0.6,
  seed: 20240601,
};

export class ClusteredVectors {
  readonly centroids: Float32Array[];
  private readonly uniform: () => number;
  private readonly normal: () => number;

  constructor(readonly options: ClusteredVectorsOptions = defaultVectorOptions) {
    this.uniform = mulberry32(options.seed);
    this.normal = gaussian(this.uniform);
    this.centroids = [];
    for (let c = 0; c < options.clusters; c++) {
      const v = new Float32Array(options.dimensions);
      for (let i = 0; i < v.length; i++) v[i] = this.normal();
      this.centroids.push(v);
    }
  }

  /** The next vector: a random centroid plus gaussian noise, L2-normalised. */
  next(): { vector: Float32Array; cluster: number } {
    const cluster = Math.floor(this.uniform() * this.options.clusters);
    const centroid = this.centroids[cluster];
    const v = new Float32Array(this.options.dimensions);
    let norm = 0;
    for (let i = 0; i < v.length; i++) {
      const x = centroid[i] + this.options.spread * this.normal();
      v[i] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) v[i] = v[i] / norm;
    return { vector: v, cluster };
  }

  /** A uniform draw in [0, 1) from the same seeded stream (for filters, workspaces). */
  random(): number {
    return this.uniform();
  }
}

/** pgvector's text form, `[0.1,0.2,...]`. */
export function toVectorLiteral(v: Float32Array): string {
  let s = "[";
  for (let i = 0; i < v.length; i++) {
    if (i) s += ",";
    s += v[i].toPrecision(7);
  }
  return `${s}]`;
}

/**
 * pgvector's binary wire form of one vector (what `vector_recv` reads):
 * int16 dimensions, int16 unused, then float4 big-endian values.
 */
export function vectorBinary(v: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + 4 * v.length);
  buf.writeInt16BE(v.length, 0);
  buf.writeInt16BE(0, 2);
  for (let i = 0; i < v.length; i++) buf.writeFloatBE(v[i], 4 + 4 * i);
  return buf;
}

/**
 * A one-dimensional Postgres array in binary wire form (what `array_recv` reads), for
 * sending a whole batch of vectors as one `vector[]` parameter: a text literal of a
 * 768-dim vector is ~7 KB to format and parse, the binary form is 3 KB and needs no parsing.
 * `elementOid` must be the server's OID of the `vector` type.
 */
export function binaryArray(elements: Buffer[], elementOid: number): Buffer {
  let size = 20;
  for (const e of elements) size += 4 + e.length;
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(1, 0); // dimensions
  buf.writeInt32BE(0, 4); // has nulls
  buf.writeInt32BE(elementOid, 8);
  buf.writeInt32BE(elements.length, 12);
  buf.writeInt32BE(1, 16); // lower bound
  let off = 20;
  for (const e of elements) {
    buf.writeInt32BE(e.length, off);
    off += 4;
    e.copy(buf, off);
    off += e.length;
  }
  return buf;
}
