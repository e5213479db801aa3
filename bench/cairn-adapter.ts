import type { ClaimTarget } from "./lib/claim-harness.js";

/**
 * The seam between the benchmark and Cairn's own code. Everything the benchmark needs
 * from Cairn goes through this interface, so the baselines (raw SQL, pg-boss, plain
 * pgvector tables, a bare Hono + Drizzle + Neon bundle) run today and Cairn's figures
 * appear next to them as soon as `createCairnAdapter` returns a wired implementation.
 *
 * Rules for the implementation (so the comparison stays fair):
 * - go through Cairn's domain functions and the production driver
 *   (`@neondatabase/serverless` through the local WebSocket proxy), as the issue asks;
 * - do set-up (seeding, workspaces, API keys) outside the timed calls;
 * - never share state with the baselines: Cairn uses its own schema/tables in the bench DB.
 *
 * HOOK: replace `NotWiredAdapter` below with the real adapter once Cairn's domain exists.
 */

export interface BenchMemory {
  id: string;
  workspaceId: string;
  content: string;
  embedding: Float32Array;
  metadata: Record<string, unknown>;
}

export interface VectorSearchRequest {
  workspaceId: string;
  embedding: Float32Array;
  k: number;
  /** Metadata containment filter (`metadata @> filter`), as the memory search API accepts it. */
  filter?: Record<string, unknown>;
}

export interface HybridSearchRequest extends VectorSearchRequest {
  text: string;
}

export interface CairnAdapter {
  readonly wired: boolean;
  /** Migrates Cairn's schema into the bench database and creates the bench workspaces. */
  setup(databaseUrl: string): Promise<{ workspaceIds: string[] }>;
  teardown(): Promise<void>;

  /**
   * 1. Claims: seeds `items` work items and returns a ClaimTarget whose `claim` is
   * Cairn's claim (one statement) and `complete` Cairn's completion, per worker connection.
   */
  claimTarget(items: number, workers: number): Promise<ClaimTarget>;

  /** 2./3./6. Memory search through the domain functions; each returns memory ids, best first. */
  loadMemories(memories: BenchMemory[]): Promise<void>;
  searchVector(req: VectorSearchRequest): Promise<string[]>;
  searchText(req: { workspaceId: string; text: string; k: number }): Promise<string[]>;
  searchHybrid(req: HybridSearchRequest): Promise<string[]>;

  /** 4. Ingestion: the batch endpoint's statement, and one INSERT per memory for the baseline. */
  ingestBatch(memories: BenchMemory[]): Promise<void>;
  ingestOneByOne(memories: BenchMemory[]): Promise<void>;

  /** 6. API overhead: the same calls through the Hono app with `app.request` in-process. */
  apiSearch(req: VectorSearchRequest): Promise<string[]>;
  apiClaim(limit: number): Promise<string[]>;
  domainClaim(limit: number): Promise<string[]>;

  /** 7. Tiering: seeds `count` memories with ages/access counts, then times one tiering pass. */
  prepareTiering(count: number): Promise<void>;
  tier(): Promise<{ moved: number }>;
}

export class NotWiredError extends Error {
  constructor(what: string) {
    super(`Cairn is not wired into the benchmark yet (${what}); see bench/cairn-adapter.ts`);
    this.name = "NotWiredError";
  }
}

const notWired = (what: string) => async (): Promise<never> => {
  throw new NotWiredError(what);
};

class NotWiredAdapter implements CairnAdapter {
  readonly wired = false;
  setup = notWired("setup");
  teardown = async () => {};
  claimTarget = notWired("claimTarget");
  loadMemories = notWired("loadMemories");
  searchVector = notWired("searchVector");
  searchText = notWired("searchText");
  searchHybrid = notWired("searchHybrid");
  ingestBatch = notWired("ingestBatch");
  ingestOneByOne = notWired("ingestOneByOne");
  apiSearch = notWired("apiSearch");
  apiClaim = notWired("apiClaim");
  domainClaim = notWired("domainClaim");
  prepareTiering = notWired("prepareTiering");
  tier = notWired("tier");
}

export async function createCairnAdapter(): Promise<CairnAdapter> {
  return new NotWiredAdapter();
}
