/** Activity: who did what to which entity, filtered, newest first; every entity page links here. */
import { useState } from "preact/hooks";
import type { Schemas, Session } from "../api";
import { usePagedList } from "../data";
import { href, navigate, type Route } from "../router";
import { ErrorNotice, JsonView, Loading, Pager, rememberPerson, shortId, Time } from "../ui";

type Entry = Schemas["ActivityEntry"];

const ENTITY_TYPES = [
  "work_order",
  "work_item",
  "dead_letter",
  "workflow_template",
  "approval_request",
  "approval_policy",
  "memory",
  "conversation",
  "raw_event",
  "connector",
  "tool",
  "capability",
  "schema",
  "user",
  "api_key",
  "workspace",
];

/** The console page of an entity, where it has one. */
const ENTITY_PAGES: Record<string, string> = {
  work_order: "work",
  work_item: "items",
  dead_letter: "dead-letters",
  approval_request: "approvals",
  memory: "memory",
};

const FILTERS = ["entityType", "entityId", "actorId", "action", "since", "until"] as const;
type FilterName = (typeof FILTERS)[number];

const localInput = (iso: string | null) => {
  if (!iso) return "";
  const at = new Date(iso);
  return Number.isNaN(at.getTime())
    ? ""
    : new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

function Who({ entry, me }: { entry: Entry; me: string }) {
  if (entry.actorType === "USER") {
    const person = entry.actorUser;
    const label = person
      ? person.name
        ? `${person.name} <${person.email}>`
        : person.email
      : `user ${shortId(entry.actorId)}`;
    return (
      <span title={entry.actorId ?? undefined}>
        {label}
        {entry.actorId === me ? " (you)" : ""}
      </span>
    );
  }
  return (
    <span>
      {entry.actorType === "SYSTEM" ? "the system" : "an API key"}
      {entry.actorId ? <span class="muted"> ({entry.actorId})</span> : null}
    </span>
  );
}

function Entity({ entry }: { entry: Entry }) {
  const page = ENTITY_PAGES[entry.entityType];
  const label = `${entry.entityType.replace(/_/g, " ")} ${shortId(entry.entityId)}`;
  return page ? <a href={href(`${page}/${entry.entityId}`)}>{label}</a> : <span title={entry.entityId}>{label}</span>;
}

export function ActivityPage({ session, route }: { session: Session; route: Route }) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, route.query.get(name) ?? ""])) as Record<
    FilterName,
    string
  >;
  const [draft, setDraft] = useState(filters);
  const [lastRoute, setLastRoute] = useState(JSON.stringify(filters));
  if (JSON.stringify(filters) !== lastRoute) {
    // Navigated here with other filters (an entity's "Activity" link): show them in the form.
    setLastRoute(JSON.stringify(filters));
    setDraft(filters);
  }
  const list = usePagedList(
    async (cursor) => {
      const page = await session.client.GET("/v1/activity", {
        params: {
          query: {
            entityType: filters.entityType || undefined,
            entityId: filters.entityId || undefined,
            actorId: filters.actorId || undefined,
            action: filters.action || undefined,
            since: filters.since || undefined,
            until: filters.until || undefined,
            limit: 50,
            cursor,
          },
        },
      });
      for (const entry of page.items) rememberPerson(entry.actorId, entry.actorUser);
      return page;
    },
    [session, ...FILTERS.map((name) => filters[name])],
  );

  const apply = (event: Event) => {
    event.preventDefault();
    navigate(
      href("activity", {
        ...draft,
        since: draft.since ? new Date(draft.since).toISOString() : undefined,
        until: draft.until ? new Date(draft.until).toISOString() : undefined,
      }),
    );
  };
  const set = (name: FilterName) => (event: { currentTarget: { value: string } }) =>
    setDraft({ ...draft, [name]: event.currentTarget.value });

  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      <p class="muted">
        Every change, who made it and when, newest first. You see the changes to what your key can read.
      </p>
      <form onSubmit={apply} aria-label="Filter activity">
        <div class="inline-fields">
          <div class="field">
            <label for="activity-type">Entity type</label>
            <select id="activity-type" value={draft.entityType} onChange={set("entityType")}>
              <option value="">any</option>
              {ENTITY_TYPES.map((type) => (
                <option key={type} value={type}>
                  {type.replace(/_/g, " ")}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="activity-entity">Entity id</label>
            <input id="activity-entity" value={draft.entityId} size={38} onInput={set("entityId")} />
          </div>
          <div class="field">
            <label for="activity-actor">
              Actor <span class="hint">(user id or job)</span>
            </label>
            <input id="activity-actor" value={draft.actorId} size={38} onInput={set("actorId")} />
          </div>
          <div class="field">
            <label for="activity-action">
              Action <span class="hint">(e.g. approval.approved or approval.*)</span>
            </label>
            <input id="activity-action" value={draft.action} onInput={set("action")} />
          </div>
          <div class="field">
            <label for="activity-since">From</label>
            <input
              id="activity-since"
              type="datetime-local"
              value={localInput(draft.since) || draft.since}
              onInput={set("since")}
            />
          </div>
          <div class="field">
            <label for="activity-until">Until</label>
            <input
              id="activity-until"
              type="datetime-local"
              value={localInput(draft.until) || draft.until}
              onInput={set("until")}
            />
          </div>
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Show
          </button>
          <button type="button" onClick={() => navigate(href("activity", { actorId: session.me.user.id }))}>
            Only mine
          </button>
          <button type="button" onClick={() => navigate(href("activity"))}>
            Clear filters
          </button>
        </div>
      </form>
      <ErrorNotice error={list.error} />
      {list.data === undefined ? (
        list.loading ? (
          <Loading what="activity" />
        ) : null
      ) : list.data.items.length === 0 ? (
        <p>Nothing happened that matches.</p>
      ) : (
        <table class="list" aria-label="Activity">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Entity</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((entry) => (
              <tr key={entry.id}>
                <td data-label="When">
                  <Time value={entry.at} />
                </td>
                <td data-label="Who">
                  <Who entry={entry} me={session.me.user.id} />
                </td>
                <td data-label="Action">
                  <code>{entry.action}</code>
                </td>
                <td data-label="Entity">
                  <Entity entry={entry} />
                </td>
                <td data-label="Change">
                  {entry.before === undefined && entry.after === undefined ? (
                    <span class="muted">—</span>
                  ) : (
                    <details>
                      <summary>before and after</summary>
                      <div class="change">
                        <JsonView value={entry.before ?? null} label="Before" openDepth={1} />
                        <JsonView value={entry.after ?? null} label="After" openDepth={1} />
                      </div>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager label="Activity" {...list} />
    </section>
  );
}
