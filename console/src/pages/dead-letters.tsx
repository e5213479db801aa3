/** Dead letters: a filtered list; one letter's every error; redrive (with an edited payload), discard, auto-retry. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { can, type Schemas, type Session } from "../api";
import { usePagedList, useResource } from "../data";
import { href, type Route } from "../router";
import type { Problem } from "../schema-check";
import { ErrorNotice, Facts, JsonView, Loading, Notice, Pager, Status, shortId, Time } from "../ui";

type DeadLetter = Schemas["DeadLetter"];
const STATUSES: DeadLetter["status"][] = ["OPEN", "REDRIVEN", "DISCARDED"];
const SOURCES: DeadLetter["source"][] = ["work_item", "event", "queue", "webhook"];

export function DeadLettersPage({ session, route }: { session: Session; route: Route }) {
  const status = STATUSES.find((candidate) => candidate === (route.query.get("status") ?? "OPEN"));
  const source = SOURCES.find((candidate) => candidate === route.query.get("source"));
  const autoRetry = route.query.get("autoRetry") === "true" ? "true" : undefined;
  const list = usePagedList(
    (cursor) =>
      session.client.GET("/v1/dead-letters", {
        params: { query: { status, source, autoRetry: autoRetry ? true : undefined, limit: 25, cursor } },
      }),
    [session, status, source, autoRetry],
  );
  const filter = (change: Record<string, string | undefined>) =>
    href("dead-letters", { status: status ?? "all", source, autoRetry, ...change });
  return (
    <section aria-labelledby="letters-title">
      <h1 id="letters-title">Dead letters</h1>
      <p class="muted">
        Work that failed for good (and failed events and deliveries). Redrive it, discard it, or let it retry on its
        own.
      </p>
      <form class="inline-fields" aria-label="Filter dead letters" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="dl-status">Status</label>
          <select
            id="dl-status"
            value={status ?? "all"}
            onChange={(event) => (window.location.hash = filter({ status: event.currentTarget.value }))}
          >
            <option value="all">any</option>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value.toLowerCase()}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="dl-source">Source</label>
          <select
            id="dl-source"
            value={source ?? ""}
            onChange={(event) => (window.location.hash = filter({ source: event.currentTarget.value || undefined }))}
          >
            <option value="">any</option>
            {SOURCES.map((value) => (
              <option key={value} value={value}>
                {value.replace("_", " ")}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="dl-auto">
            <input
              id="dl-auto"
              type="checkbox"
              checked={autoRetry === "true"}
              onChange={(event) =>
                (window.location.hash = filter({ autoRetry: event.currentTarget.checked ? "true" : undefined }))
              }
            />{" "}
            Only those marked for automatic retry
          </label>
        </div>
      </form>
      <ErrorNotice error={list.error} />
      {list.data === undefined ? (
        list.loading ? (
          <Loading what="dead letters" />
        ) : null
      ) : list.data.items.length === 0 ? (
        <p>No dead letters match.</p>
      ) : (
        <table class="list" aria-label="Dead letters">
          <thead>
            <tr>
              <th scope="col">Reason</th>
              <th scope="col">Source</th>
              <th scope="col">Status</th>
              <th scope="col">Errors</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((letter) => (
              <tr key={letter.id}>
                <td data-label="Reason">
                  <a href={href(`dead-letters/${letter.id}`)}>{letter.reason}</a>
                </td>
                <td data-label="Source">{letter.source.replace("_", " ")}</td>
                <td data-label="Status">
                  <Status value={letter.status} />
                  {letter.autoRetry ? <span class="muted"> (auto-retry)</span> : null}
                </td>
                <td data-label="Errors">{letter.errors.length}</td>
                <td data-label="Created">
                  <Time value={letter.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager label="Dead letters" {...list} />
    </section>
  );
}

interface LetterView {
  letter: DeadLetter;
  item: Schemas["WorkItemDetail"] | null;
  /** The item type's active schema; null when there is none; "unreadable" without platform:read. */
  schema: Schemas["PayloadSchema"] | null | "unreadable";
}

async function loadLetter(session: Session, id: string): Promise<LetterView> {
  const { client } = session;
  const letter = await client.GET("/v1/dead-letters/{id}", { params: { path: { id } } });
  const item = letter.workItemId
    ? await client.GET("/v1/work-items/{id}", { params: { path: { id: letter.workItemId } } }).catch(() => null)
    : null;
  let schema: LetterView["schema"] = null;
  if (item) {
    if (!can(session, "platform:read")) schema = "unreadable";
    else {
      const schemas = await client.GET("/v1/schemas", { params: { query: { itemType: item.type, limit: 10 } } });
      schema = schemas.items.reduce<Schemas["PayloadSchema"] | null>(
        (newest, candidate) => (!newest || candidate.version > newest.version ? candidate : newest),
        null,
      );
    }
  }
  return { letter, item, schema };
}

export function DeadLetterPage({ session, id }: { session: Session; id: string }) {
  const loaded = useResource(() => loadLetter(session, id), [session, id], 10_000);
  // Kept here, not in the forms: an action that closes the letter removes them.
  const [outcome, setOutcome] = useState<string | null>(null);
  if (!loaded.data) return loaded.error ? <ErrorNotice error={loaded.error} /> : <Loading what="the dead letter" />;
  const { letter, item, schema } = loaded.data;
  const actionable = letter.status === "OPEN" && can(session, "work:write");
  const done = (message: string) => {
    setOutcome(message);
    loaded.reload();
  };
  return (
    <article aria-labelledby="letter-title">
      <p>
        <a href={href("dead-letters")}>← Dead letters</a>
      </p>
      <h1 id="letter-title">Dead letter {shortId(letter.id)}</h1>
      <Facts
        rows={[
          ["Status", <Status key="s" value={letter.status} />],
          ["Reason", letter.reason],
          ["Source", letter.source.replace("_", " ")],
          [
            "Work item",
            letter.workItemId ? (
              <a key="i" href={href(`items/${letter.workItemId}`)}>
                {item ? `${item.type} (${item.status.toLowerCase().replace("_", " ")})` : shortId(letter.workItemId)}
              </a>
            ) : (
              "—"
            ),
          ],
          ["Created", <Time key="c" value={letter.createdAt} />],
          [
            "Redriven",
            `${letter.redriveCount} time${letter.redriveCount === 1 ? "" : "s"} (automatic limit ${letter.maxRedrives})`,
          ],
          [
            "Automatic retry",
            letter.autoRetry ? (
              <span key="a">
                on; next <Time value={letter.nextRetryAt} />
              </span>
            ) : (
              "off"
            ),
          ],
          ...(letter.redrivenAt
            ? ([["Last redrive", <Time key="r" value={letter.redrivenAt} />]] as Array<[string, ComponentChildren]>)
            : []),
          ...(letter.discardedAt
            ? ([
                ["Discarded", `${new Date(letter.discardedAt).toLocaleString()}: ${letter.discardReason ?? ""}`],
              ] as Array<[string, ComponentChildren]>)
            : []),
        ]}
      />
      <h2>Every error</h2>
      {letter.errors.length === 0 ? (
        <p class="muted">No error was recorded.</p>
      ) : (
        <table class="list" aria-label="Errors, oldest first">
          <thead>
            <tr>
              <th scope="col">Attempt</th>
              <th scope="col">Status</th>
              <th scope="col">Error</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {letter.errors.map((entry, index) => (
              <tr key={`${index}-${String(entry.at)}`}>
                <td data-label="Attempt">{String(entry.attempt ?? index + 1)}</td>
                <td data-label="Status">{typeof entry.status === "string" ? <Status value={entry.status} /> : "—"}</td>
                <td data-label="Error">
                  <pre>{typeof entry.error === "string" ? entry.error : JSON.stringify(entry.error ?? entry)}</pre>
                </td>
                <td data-label="When">
                  <Time value={typeof entry.at === "string" ? entry.at : null} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Payload</h2>
      <JsonView value={letter.payload} label="Payload when it failed" />
      {outcome ? <Notice kind="success">{outcome}</Notice> : null}
      {actionable ? (
        <>
          <Redrive session={session} letter={letter} item={item} schema={schema} onDone={done} />
          <Discard session={session} letter={letter} onDone={done} />
          <AutoRetry session={session} letter={letter} onDone={done} />
        </>
      ) : null}
      <p class="actions">
        <a href={href("activity", { entityType: "dead_letter", entityId: letter.id })}>Activity of this dead letter</a>
      </p>
    </article>
  );
}

type Check = { state: "idle" } | { state: "invalid-json"; message: string } | { state: "checked"; problems: Problem[] };

function Redrive(props: {
  session: Session;
  letter: DeadLetter;
  item: Schemas["WorkItemDetail"] | null;
  schema: LetterView["schema"];
  onDone: (outcome: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(() => JSON.stringify(props.item?.payload ?? props.letter.payload, null, 2));
  const [check, setCheck] = useState<Check>({ state: "idle" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const schema = typeof props.schema === "object" ? props.schema : null;

  // Check as the person types: JSON first, then the schema (ajv loads on first use).
  useEffect(() => {
    if (!editing) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (failure) {
      setCheck({ state: "invalid-json", message: failure instanceof Error ? failure.message : String(failure) });
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      setCheck({ state: "checked", problems: [{ path: "", message: "must be a JSON object" }] });
      return;
    }
    if (!schema) {
      setCheck({ state: "checked", problems: [] });
      return;
    }
    let current = true;
    import("../schema-check").then(
      ({ check: validate }) => {
        if (current) setCheck({ state: "checked", problems: validate(schema.id, schema.jsonSchema, parsed) });
      },
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [editing, text, schema]);

  const ready = !editing || (check.state === "checked" && check.problems.length === 0);
  const redrive = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.session.client.POST("/v1/dead-letters/{id}/redrive", {
        params: { path: { id: props.letter.id } },
        body: editing ? { payload: JSON.parse(text) as Record<string, unknown> } : {},
      });
      props.onDone(
        editing ? "Redriven with the edited payload: the item is queued again." : "Redriven: the item is queued again.",
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="redrive-title">
      <h2 id="redrive-title">Redrive</h2>
      <p class="muted">The item is queued again with a fresh attempt budget.</p>
      <div class="field">
        <label for="edit-payload">
          <input
            id="edit-payload"
            type="checkbox"
            checked={editing}
            onChange={(event) => setEditing(event.currentTarget.checked)}
          />{" "}
          Edit the payload first
        </label>
      </div>
      {editing ? (
        <>
          <div class="field">
            <label for="payload-editor">
              Payload (JSON){" "}
              <span class="hint">
                {props.schema === "unreadable"
                  ? "— your key cannot read payload schemas (platform:read); the server checks it when you redrive"
                  : schema
                    ? `— checked against the ${schema.itemType} schema, version ${schema.version}`
                    : `— ${props.item?.type ?? "this item type"} has no schema: any JSON object is accepted`}
              </span>
            </label>
            <textarea
              id="payload-editor"
              class="code"
              spellcheck={false}
              value={text}
              aria-describedby="payload-problems"
              aria-invalid={check.state === "invalid-json" || (check.state === "checked" && check.problems.length > 0)}
              onInput={(event) => setText(event.currentTarget.value)}
            />
          </div>
          <div id="payload-problems" aria-live="polite">
            {check.state === "invalid-json" ? (
              <Notice kind="error">This is not valid JSON: {check.message}</Notice>
            ) : check.state === "checked" && check.problems.length > 0 ? (
              <Notice kind="error">
                <p>The payload does not match the schema:</p>
                <ul class="problems" data-testid="schema-problems">
                  {check.problems.map((problem) => (
                    <li key={`${problem.path}:${problem.message}`}>
                      <code>{problem.path || "(the payload)"}</code> {problem.message}
                    </li>
                  ))}
                </ul>
              </Notice>
            ) : check.state === "checked" ? (
              <p class="muted">{schema ? "The payload matches the schema." : "Valid JSON."}</p>
            ) : null}
          </div>
        </>
      ) : null}
      <div class="actions">
        <button type="button" class="primary" disabled={busy || !ready} onClick={redrive}>
          {editing ? "Redrive with this payload" : "Redrive"}
        </button>
      </div>
      <ErrorNotice error={error} />
    </section>
  );
}

function Discard(props: { session: Session; letter: DeadLetter; onDone: (outcome: string) => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const discard = async () => {
    if (!reason.trim()) {
      setError(new Error("Say why it is discarded: a discard needs a reason."));
      return;
    }
    setError(null);
    try {
      await props.session.client.POST("/v1/dead-letters/{id}/discard", {
        params: { path: { id: props.letter.id } },
        body: { reason: reason.trim() },
      });
      props.onDone("Discarded: the dead letter is kept with your reason, and the item stays failed.");
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section class="panel" aria-labelledby="discard-title">
      <h2 id="discard-title">Discard</h2>
      <p class="muted">The dead letter is kept, marked discarded with your reason; the item stays failed.</p>
      <div class="field">
        <label for="discard-reason">Reason</label>
        <input
          id="discard-reason"
          value={reason}
          maxLength={2000}
          onInput={(event) => setReason(event.currentTarget.value)}
        />
      </div>
      <button type="button" class="danger" onClick={discard}>
        Discard
      </button>
      <ErrorNotice error={error} />
    </section>
  );
}

/** `datetime-local` value for a Date, in the browser's time zone. */
const localInput = (at: Date) => new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

function AutoRetry(props: { session: Session; letter: DeadLetter; onDone: (outcome: string) => void }) {
  const [maxRedrives, setMaxRedrives] = useState(String(props.letter.maxRedrives));
  const [firstAt, setFirstAt] = useState(() => localInput(new Date()));
  const [error, setError] = useState<unknown>(null);
  const save = async (autoRetry: boolean) => {
    setError(null);
    try {
      const limit = Number(maxRedrives);
      await props.session.client.PATCH("/v1/dead-letters/{id}", {
        params: { path: { id: props.letter.id } },
        body: autoRetry
          ? {
              autoRetry,
              maxRedrives: Number.isInteger(limit) ? limit : undefined,
              nextRetryAt: new Date(firstAt).toISOString(),
            }
          : { autoRetry },
      });
      props.onDone(autoRetry ? "Marked for automatic retry." : "Automatic retry is off.");
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section class="panel" aria-labelledby="auto-title">
      <h2 id="auto-title">Automatic retry</h2>
      <p class="muted">The dead-letter job redrives it on its own, with backoff, up to the limit.</p>
      <div class="inline-fields">
        <div class="field">
          <label for="auto-max">Redrive at most (times)</label>
          <input
            id="auto-max"
            type="number"
            min={0}
            max={100}
            value={maxRedrives}
            onInput={(e) => setMaxRedrives(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="auto-first">First retry at</label>
          <input
            id="auto-first"
            type="datetime-local"
            value={firstAt}
            onInput={(e) => setFirstAt(e.currentTarget.value)}
          />
        </div>
      </div>
      <div class="actions">
        <button type="button" onClick={() => save(true)}>
          {props.letter.autoRetry ? "Update automatic retry" : "Mark for automatic retry"}
        </button>
        {props.letter.autoRetry ? (
          <button type="button" onClick={() => save(false)}>
            Stop automatic retry
          </button>
        ) : null}
      </div>
      <ErrorNotice error={error} />
    </section>
  );
}
