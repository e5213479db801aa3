/** Work orders: the list with item counts, one order with its items, one item with its attempts. */
import { useState } from "preact/hooks";
import { can, type Schemas, type Session } from "../api";
import { usePagedList, useResource } from "../data";
import { href, type Route } from "../router";
import { ErrorNotice, Facts, JsonView, Loading, Notice, Pager, Status, shortId, Time } from "../ui";

type OrderStatus = Schemas["WorkOrder"]["status"];
const ORDER_STATUSES: OrderStatus[] = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"];
const ITEM_STATUS_ORDER = ["QUEUED", "AWAITING_APPROVAL", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"];

export function Counts({ counts, label }: { counts: Record<string, number>; label: string }) {
  const entries = Object.entries(counts).sort(
    ([a], [b]) => ITEM_STATUS_ORDER.indexOf(a) - ITEM_STATUS_ORDER.indexOf(b),
  );
  if (entries.length === 0) return <span class="muted">no items</span>;
  return (
    <ul class="chips" aria-label={label}>
      {entries.map(([status, n]) => (
        <li key={status}>
          {n} <Status value={status} />
        </li>
      ))}
    </ul>
  );
}

export function OrdersPage({ session, route }: { session: Session; route: Route }) {
  const status = ORDER_STATUSES.find((candidate) => candidate === route.query.get("status"));
  const list = usePagedList(
    (cursor) => session.client.GET("/v1/work-orders", { params: { query: { status, limit: 25, cursor } } }),
    [session, status],
  );
  return (
    <section aria-labelledby="work-title">
      <h1 id="work-title">Work orders</h1>
      <nav aria-label="Order status">
        <ul class="filters">
          {[undefined, ...ORDER_STATUSES].map((candidate) => (
            <li key={candidate ?? "all"}>
              <a href={href("work", { status: candidate })} aria-current={candidate === status ? "true" : undefined}>
                {candidate ? candidate.toLowerCase() : "all"}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <ErrorNotice error={list.error} />
      {list.data === undefined ? (
        list.loading ? (
          <Loading what="work orders" />
        ) : null
      ) : list.data.items.length === 0 ? (
        <p>No work orders{status ? ` that are ${status.toLowerCase()}` : ""}.</p>
      ) : (
        <table class="list" aria-label="Work orders">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Status</th>
              <th scope="col">Items by status</th>
              <th scope="col">Priority</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((order) => (
              <tr key={order.id}>
                <td data-label="Order">
                  <a href={href(`work/${order.id}`)}>{order.title}</a>
                </td>
                <td data-label="Status">
                  <Status value={order.status} />
                </td>
                <td data-label="Items">
                  <Counts counts={order.itemCounts} label={`Items of ${order.title} by status`} />
                </td>
                <td data-label="Priority">{order.priority.toLowerCase()}</td>
                <td data-label="Created">
                  <Time value={order.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager label="Work orders" {...list} />
    </section>
  );
}

export function OrderPage({ session, id }: { session: Session; id: string }) {
  const order = useResource(
    () => session.client.GET("/v1/work-orders/{id}", { params: { path: { id } } }),
    [session, id],
    5_000,
  );
  // Kept here: cancelling closes the order, which removes the form.
  const [cancelled, setCancelled] = useState(false);
  if (!order.data) return order.error ? <ErrorNotice error={order.error} /> : <Loading what="the work order" />;
  const data = order.data;
  const open = data.status === "PENDING" || data.status === "PROCESSING";
  return (
    <article aria-labelledby="order-title">
      <p>
        <a href={href("work")}>← Work orders</a>
      </p>
      <h1 id="order-title">{data.title}</h1>
      <Facts
        rows={[
          ["Status", <Status key="s" value={data.status} />],
          ["Items", <Counts key="c" counts={data.itemCounts} label="Items by status" />],
          ["Priority", data.priority.toLowerCase()],
          ["Description", data.description ?? <span class="muted">—</span>],
          ["Retry", `backoff from ${data.retry.baseMs} ms up to ${data.retry.capMs} ms`],
          ["Created", <Time key="t" value={data.createdAt} />],
          ["Completed", <Time key="d" value={data.completedAt} />],
          ["Id", <code key="i">{data.id}</code>],
        ]}
      />
      {Object.keys(data.metadata).length ? <JsonView value={data.metadata} label="Metadata" /> : null}
      <h2>Items</h2>
      <table class="list" aria-label="Items of this order">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {data.items.map((item) => (
            <tr key={item.id}>
              <td data-label="#">{item.sequence}</td>
              <td data-label="Type">
                <a href={href(`items/${item.id}`)}>{item.type}</a>
              </td>
              <td data-label="Status">
                <Status value={item.status} />
              </td>
              <td data-label="Attempts">
                {item.attemptCount} of {item.maxAttempts}
              </td>
              <td data-label="Last error">{item.lastError ?? <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {cancelled ? <Notice kind="success">The order is cancelled, with its unfinished items.</Notice> : null}
      {open && can(session, "work:write") ? (
        <CancelOrder
          session={session}
          id={data.id}
          onCancelled={() => {
            setCancelled(true);
            order.reload();
          }}
        />
      ) : null}
      <p class="actions">
        <a href={href("activity", { entityType: "work_order", entityId: data.id })}>Activity of this order</a>
      </p>
    </article>
  );
}

function CancelOrder(props: { session: Session; id: string; onCancelled: () => void }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const cancel = async () => {
    setError(null);
    try {
      await props.session.client.POST("/v1/work-orders/{id}/cancel", {
        params: { path: { id: props.id } },
        body: reason.trim() ? { reason: reason.trim() } : {},
      });
      setAsking(false);
      props.onCancelled();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section class="panel" aria-labelledby="cancel-title">
      <h2 id="cancel-title">Cancel this order</h2>
      <p class="muted">Queued, waiting and running items are cancelled; a running worker's result is then refused.</p>
      {asking ? (
        <>
          <div class="field">
            <label for="cancel-reason">
              Reason <span class="hint">(optional, recorded in the activity)</span>
            </label>
            <input
              id="cancel-reason"
              value={reason}
              maxLength={2000}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
          </div>
          <div class="actions">
            <button type="button" class="danger" onClick={cancel}>
              Confirm: cancel the order
            </button>
            <button type="button" onClick={() => setAsking(false)}>
              Keep it
            </button>
          </div>
        </>
      ) : (
        <button type="button" onClick={() => setAsking(true)}>
          Cancel order…
        </button>
      )}
      <ErrorNotice error={error} />
    </section>
  );
}

export function ItemPage({ session, id }: { session: Session; id: string }) {
  const item = useResource(
    async () => {
      const detail = await session.client.GET("/v1/work-items/{id}", { params: { path: { id } } });
      const [letters, approvals] = await Promise.all([
        session.client
          .GET("/v1/dead-letters", { params: { query: { workItemId: id, limit: 20 } } })
          .catch(() => undefined),
        can(session, "approvals:read")
          ? session.client
              .GET("/v1/approvals", { params: { query: { workItemId: id, limit: 20 } } })
              .catch(() => undefined)
          : undefined,
      ]);
      return { detail, letters: letters?.items ?? [], approvals: approvals?.items ?? [] };
    },
    [session, id],
    5_000,
  );
  if (!item.data) return item.error ? <ErrorNotice error={item.error} /> : <Loading what="the item" />;
  const { detail, letters, approvals } = item.data;
  return (
    <article aria-labelledby="item-title">
      <p>
        <a href={href(`work/${detail.workOrderId}`)}>← Its work order</a>
      </p>
      <h1 id="item-title">
        {detail.type} <span class="muted">item {shortId(detail.id)}</span>
      </h1>
      <Facts
        rows={[
          ["Status", <Status key="s" value={detail.status} />],
          ["Attempts", `${detail.attemptCount} of ${detail.maxAttempts}`],
          ["Priority", detail.priority.toLowerCase()],
          ["Runs from", <Time key="a" value={detail.availableAt} />],
          ["Held by", detail.lockedBy ?? <span class="muted">no worker</span>],
          ["Lease until", <Time key="l" value={detail.leaseExpiresAt} />],
          ["Completed", <Time key="c" value={detail.completedAt} />],
          ["Last error", detail.lastError ?? <span class="muted">—</span>],
        ]}
      />
      <h2>Payload</h2>
      <JsonView value={detail.payload} label="Payload" />
      <h2>Result</h2>
      {detail.result === undefined || detail.result === null ? (
        <p class="muted">No result yet.</p>
      ) : (
        <JsonView value={detail.result} label="Result" />
      )}
      <h2>Attempts</h2>
      {detail.attempts.length === 0 ? (
        <p class="muted">Not claimed yet.</p>
      ) : (
        <table class="list" aria-label="Attempts">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Worker</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Finished</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {detail.attempts.map((attempt) => (
              <tr key={attempt.id}>
                <td data-label="#">{attempt.attemptNumber}</td>
                <td data-label="Worker">
                  <code>{attempt.workerId}</code>
                </td>
                <td data-label="Status">
                  <Status value={attempt.status} />
                </td>
                <td data-label="Started">
                  <Time value={attempt.startedAt} />
                </td>
                <td data-label="Finished">
                  <Time value={attempt.finishedAt} />
                </td>
                <td data-label="Error">{attempt.error ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {approvals.length ? (
        <>
          <h2>Approvals</h2>
          <ul>
            {approvals.map((request) => (
              <li key={request.id}>
                <a href={href(`approvals/${request.id}`)}>
                  {request.gate === "BEFORE" ? "Before it runs" : "After it ran"}
                </a>{" "}
                <Status value={request.status} />
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {letters.length ? (
        <>
          <h2>Dead letters</h2>
          <ul>
            {letters.map((letter) => (
              <li key={letter.id}>
                <a href={href(`dead-letters/${letter.id}`)}>{letter.reason}</a> <Status value={letter.status} />{" "}
                <Time value={letter.createdAt} />
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <p class="actions">
        <a href={href("activity", { entityType: "work_item", entityId: detail.id })}>Activity of this item</a>
      </p>
    </article>
  );
}
