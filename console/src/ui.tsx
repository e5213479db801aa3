/** Small shared pieces: collapsible JSON, times, statuses, notices, the pager, people's names. */
import type { ComponentChildren } from "preact";
import { explain } from "./messages";

// ---- JSON ----

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function Scalar({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="null">null</span>;
  if (typeof value === "string") return <span class="string">{JSON.stringify(value)}</span>;
  if (typeof value === "number") return <span class="number">{String(value)}</span>;
  if (typeof value === "boolean") return <span class="boolean">{String(value)}</span>;
  return <span>{JSON.stringify(value)}</span>;
}

function Node({ name, value, depth, openDepth }: { name?: string; value: unknown; depth: number; openDepth: number }) {
  const label = name === undefined ? null : <span class="key">{JSON.stringify(name)}: </span>;
  if (!Array.isArray(value) && !isObject(value)) {
    return (
      <li>
        {label}
        <Scalar value={value} />
      </li>
    );
  }
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((item, index) => [String(index), item])
    : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <li>
        {label}
        {open}
        {close}
      </li>
    );
  }
  const size = `${entries.length} ${Array.isArray(value) ? "item" : "field"}${entries.length === 1 ? "" : "s"}`;
  return (
    <li>
      <details open={depth < openDepth}>
        <summary>
          {label}
          {open} <span class="muted">{size}</span>
        </summary>
        <ul class="tree">
          {entries.map(([key, item]) => (
            <Node
              key={key}
              name={Array.isArray(value) ? undefined : key}
              value={item}
              depth={depth + 1}
              openDepth={openDepth}
            />
          ))}
        </ul>
        {close}
      </details>
    </li>
  );
}

/** JSON as a tree of native disclosure widgets: keyboard-operable, collapsible at every level. */
export function JsonView({ value, label, openDepth = 2 }: { value: unknown; label: string; openDepth?: number }) {
  return (
    <figure class="json">
      <figcaption class="visually-hidden">{label}</figcaption>
      <ul class="tree root">
        <Node value={value} depth={0} openDepth={openDepth} />
      </ul>
    </figure>
  );
}

// ---- time ----

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1000],
];

export function fromNow(at: Date, now = Date.now()): string {
  const delta = at.getTime() - now;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(delta) >= ms || unit === "second") return relative.format(Math.round(delta / ms), unit);
  }
  return "";
}

export function Time({ value, relativeToo = true }: { value: string | null | undefined; relativeToo?: boolean }) {
  if (!value) return <span class="muted">—</span>;
  const at = new Date(value);
  return (
    <time dateTime={value} title={at.toISOString()}>
      {at.toLocaleString()}
      {relativeToo ? <span class="muted"> ({fromNow(at)})</span> : null}
    </time>
  );
}

// ---- statuses ----

const GOOD = new Set(["COMPLETED", "APPROVED", "REDRIVEN", "ACTIVE", "hot"]);
const BAD = new Set(["FAILED", "REJECTED", "CANCELLED", "DISCARDED", "TIMEOUT", "ERROR"]);
const WAIT = new Set(["PENDING", "AWAITING_APPROVAL", "QUEUED", "RUNNING", "PROCESSING", "OPEN", "STARTED", "warm"]);

export function Status({ value }: { value: string }) {
  const kind = GOOD.has(value) ? "good" : BAD.has(value) ? "bad" : WAIT.has(value) ? "wait" : "";
  return <span class={`status ${kind}`}>{value.replace(/_/g, " ").toLowerCase()}</span>;
}

// ---- notices ----

export function Notice({
  kind = "info",
  children,
}: {
  kind?: "info" | "error" | "success" | "warn";
  children: ComponentChildren;
}) {
  return (
    <div class={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** An API failure as a sentence, with the problems it named listed by path. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const { sentence, problems } = explain(error);
  return (
    <Notice kind="error">
      <p>{sentence}</p>
      {problems.length > 0 ? (
        <ul class="problems">
          {problems.map((problem) => (
            <li key={`${problem.path}:${problem.message}`}>
              <code>{problem.path}</code> {problem.message}
            </li>
          ))}
        </ul>
      ) : null}
    </Notice>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

// ---- lists ----

export function Pager(props: {
  label: string;
  pageNumber: number;
  hasPrevious: boolean;
  hasNext: boolean;
  previous: () => void;
  next: () => void;
}) {
  if (!props.hasPrevious && !props.hasNext) return null;
  return (
    <nav class="actions" aria-label={`${props.label} pages`}>
      <button type="button" onClick={props.previous} disabled={!props.hasPrevious}>
        Previous page
      </button>
      <span class="muted">Page {props.pageNumber}</span>
      <button type="button" onClick={props.next} disabled={!props.hasNext}>
        Next page
      </button>
    </nav>
  );
}

export function Facts({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {rows.map(([term, detail]) => [<dt key={`t-${term}`}>{term}</dt>, <dd key={`d-${term}`}>{detail}</dd>])}
    </dl>
  );
}

export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 8) : "—");

// ---- people ----

/** Names of people seen in this session (activity rows, member lists), by user id. Memory only. */
const knownPeople = new Map<string, { email: string; name: string | null }>();
export function rememberPerson(id: string | null | undefined, person: { email: string; name: string | null } | null) {
  if (id && person) knownPeople.set(id, person);
}

export function Person({ id, me }: { id: string | null | undefined; me?: string }) {
  if (!id) return <span class="muted">the system</span>;
  const known = knownPeople.get(id);
  const label = known ? (known.name ? `${known.name} <${known.email}>` : known.email) : `user ${shortId(id)}`;
  return (
    <span title={id}>
      {label}
      {id === me ? " (you)" : ""}
    </span>
  );
}
