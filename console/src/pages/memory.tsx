/** Memory: search (text, vector, hybrid, with filters) with scores and tiers; one memory's details. */
import { useState } from "preact/hooks";
import type { Schemas, Session } from "../api";
import { useResource } from "../data";
import { href } from "../router";
import { ErrorNotice, Facts, JsonView, Loading, Notice, Status, Time } from "../ui";

type SearchInput = Schemas["MemorySearchInput"];
type SearchResponse = Schemas["MemorySearchResponse"];
type Filters = NonNullable<SearchInput["filters"]>;
const MODES = ["hybrid", "text", "vector"] as const;
const TYPES = ["CONTEXT", "KNOWLEDGE", "TEMPLATE"] as const;
const TIERS = ["hot", "warm", "cold"] as const;

const toggle = <T,>(list: readonly T[], value: T, on: boolean): T[] =>
  on ? [...new Set([...list, value])] : list.filter((entry) => entry !== value);

const score = (value: number | null | undefined, digits = 3) =>
  value === null || value === undefined ? "—" : value.toFixed(digits);

export function MemorySearchPage({ session }: { session: Session }) {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<(typeof MODES)[number]>("hybrid");
  const [topK, setTopK] = useState("10");
  const [types, setTypes] = useState<Array<(typeof TYPES)[number]>>([]);
  const [tiers, setTiers] = useState<Array<(typeof TIERS)[number]>>(["hot", "warm"]);
  const [sourceType, setSourceType] = useState("");
  const [metadata, setMetadata] = useState("");
  const [minImportance, setMinImportance] = useState("");
  const [createdAfter, setCreatedAfter] = useState("");
  const [createdBefore, setCreatedBefore] = useState("");
  const [result, setResult] = useState<SearchResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const search = async (event: Event) => {
    event.preventDefault();
    setError(null);
    const filters: Filters = {};
    if (types.length) filters.type = types;
    if (tiers.length) filters.tier = tiers;
    const sources = sourceType
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (sources.length) filters.sourceType = sources;
    if (metadata.trim()) {
      try {
        const parsed: unknown = JSON.parse(metadata);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
        filters.metadata = parsed as Record<string, unknown>;
      } catch {
        setError(new Error('Metadata must be a JSON object, e.g. {"supplier": "ACME"}.'));
        return;
      }
    }
    if (minImportance) filters.minImportance = Number(minImportance);
    if (createdAfter) filters.createdAfter = new Date(createdAfter).toISOString();
    if (createdBefore) filters.createdBefore = new Date(createdBefore).toISOString();
    setBusy(true);
    try {
      setResult(
        await session.client.POST("/v1/memories/search", {
          body: {
            query: query.trim(),
            mode,
            topK: Number(topK) || 10,
            ...(Object.keys(filters).length ? { filters } : {}),
          },
        }),
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="memory-title">
      <h1 id="memory-title">Memory</h1>
      <form onSubmit={search} aria-label="Search memories">
        <div class="field">
          <label for="memory-query">Search for</label>
          <input
            id="memory-query"
            type="search"
            value={query}
            required
            size={50}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
        </div>
        <div class="inline-fields">
          <div class="field">
            <label for="memory-mode">Mode</label>
            <select
              id="memory-mode"
              value={mode}
              onChange={(e) => setMode(e.currentTarget.value as (typeof MODES)[number])}
            >
              <option value="hybrid">hybrid (text and vector, fused)</option>
              <option value="text">text (full-text)</option>
              <option value="vector">vector (embedding similarity)</option>
            </select>
          </div>
          <div class="field">
            <label for="memory-topk">Results</label>
            <input
              id="memory-topk"
              type="number"
              min={1}
              max={100}
              value={topK}
              onInput={(e) => setTopK(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="memory-importance">Importance at least</label>
            <input
              id="memory-importance"
              type="number"
              min={0}
              max={1}
              step={0.1}
              value={minImportance}
              onInput={(e) => setMinImportance(e.currentTarget.value)}
            />
          </div>
        </div>
        <details>
          <summary>More filters</summary>
          <fieldset>
            <legend>Type</legend>
            {TYPES.map((value) => (
              <label key={value} class="inline-check">
                <input
                  type="checkbox"
                  checked={types.includes(value)}
                  onChange={(e) => setTypes(toggle(types, value, e.currentTarget.checked))}
                />{" "}
                {value.toLowerCase()}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Tier (cold is searched only when chosen)</legend>
            {TIERS.map((value) => (
              <label key={value} class="inline-check">
                <input
                  type="checkbox"
                  checked={tiers.includes(value)}
                  onChange={(e) => setTiers(toggle(tiers, value, e.currentTarget.checked))}
                />{" "}
                {value}
              </label>
            ))}
          </fieldset>
          <div class="inline-fields">
            <div class="field">
              <label for="memory-source">
                Source types <span class="hint">(comma-separated)</span>
              </label>
              <input id="memory-source" value={sourceType} onInput={(e) => setSourceType(e.currentTarget.value)} />
            </div>
            <div class="field">
              <label for="memory-after">Created after</label>
              <input
                id="memory-after"
                type="datetime-local"
                value={createdAfter}
                onInput={(e) => setCreatedAfter(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="memory-before">Created before</label>
              <input
                id="memory-before"
                type="datetime-local"
                value={createdBefore}
                onInput={(e) => setCreatedBefore(e.currentTarget.value)}
              />
            </div>
          </div>
          <div class="field">
            <label for="memory-metadata">
              Metadata contains <span class="hint">(a JSON object)</span>
            </label>
            <textarea
              id="memory-metadata"
              class="code"
              rows={3}
              value={metadata}
              onInput={(e) => setMetadata(e.currentTarget.value)}
            />
          </div>
        </details>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Searching…" : "Search"}
          </button>
        </div>
      </form>
      <ErrorNotice error={error} />
      {result ? <Results result={result} /> : null}
    </section>
  );
}

function Results({ result }: { result: SearchResponse }) {
  if (result.results.length === 0) return <Notice>No memory matches.</Notice>;
  return (
    <>
      <p class="muted" role="status">
        {result.results.length} result{result.results.length === 1 ? "" : "s"}, {result.mode} search
        {result.dimensions ? ` (${result.dimensions}-dimension vectors)` : ""}. Score: the fused rank; similarity:
        cosine to the query's vector; text rank: full-text relevance.
      </p>
      <table class="list" aria-label="Search results">
        <thead>
          <tr>
            <th scope="col">Memory</th>
            <th scope="col">Score</th>
            <th scope="col">Similarity</th>
            <th scope="col">Text rank</th>
            <th scope="col">Tier</th>
            <th scope="col">Type</th>
          </tr>
        </thead>
        <tbody>
          {result.results.map((memory) => (
            <tr key={memory.id}>
              <td data-label="Memory">
                <a href={href(`memory/${memory.id}`)}>
                  {memory.content.length > 160 ? `${memory.content.slice(0, 160)}…` : memory.content}
                </a>
              </td>
              <td data-label="Score">{score(memory.score, 4)}</td>
              <td data-label="Similarity">{score(memory.similarity)}</td>
              <td data-label="Text rank">{score(memory.textRank)}</td>
              <td data-label="Tier">
                <Status value={memory.tier} />
              </td>
              <td data-label="Type">{memory.type.toLowerCase()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function MemoryPage({ session, id }: { session: Session; id: string }) {
  const memory = useResource(
    () => session.client.GET("/v1/memories/{id}", { params: { path: { id } } }),
    [session, id],
  );
  if (!memory.data) return memory.error ? <ErrorNotice error={memory.error} /> : <Loading what="the memory" />;
  const data = memory.data;
  return (
    <article aria-labelledby="memory-detail-title">
      <p>
        <a href={href("memory")}>← Memory search</a>
      </p>
      <h1 id="memory-detail-title">Memory</h1>
      <p class="panel">{data.content}</p>
      <Facts
        rows={[
          ["Type", data.type.toLowerCase()],
          [
            "Tier",
            <span key="t">
              <Status value={data.tier} />
              {data.pinnedTier ? ` (pinned to ${data.pinnedTier})` : ""}
            </span>,
          ],
          ["Importance", data.importance.toFixed(2)],
          ["Accessed", `${data.accessCount} time${data.accessCount === 1 ? "" : "s"}`],
          ["Last accessed", <Time key="a" value={data.lastAccessedAt} />],
          ["Source", data.sourceType ?? "—"],
          [
            "Embedding",
            data.embeddingDims
              ? `${data.embeddingDims} dimensions (${data.embeddingModel ?? "unknown model"})`
              : "none",
          ],
          ["Created", <Time key="c" value={data.createdAt} />],
          ["Id", <code key="i">{data.id}</code>],
        ]}
      />
      <h2>Metadata</h2>
      <JsonView value={data.metadata} label="Metadata" />
      <p class="actions">
        <a href={href("activity", { entityType: "memory", entityId: data.id })}>Activity of this memory</a>
      </p>
    </article>
  );
}
