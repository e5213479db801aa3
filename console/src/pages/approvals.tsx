/** The approvals inbox and one request: what it is for, who decided so far, and deciding it. */
import { useState } from "preact/hooks";
import { can, type Schemas, type Session } from "../api";
import { usePagedList, useResource } from "../data";
import { roleList } from "../messages";
import { href, type Route } from "../router";
import {
  ErrorNotice,
  Facts,
  JsonView,
  Loading,
  Notice,
  Pager,
  Person,
  rememberPerson,
  Status,
  shortId,
  Time,
} from "../ui";

type Request = Schemas["ApprovalRequest"];
type RequestWithDecisions = Schemas["ApprovalRequestWithDecisions"];

const VIEWS = [
  { id: "mine", label: "To decide by you" },
  { id: "pending", label: "All pending" },
  { id: "approved", label: "Approved" },
  { id: "rejected", label: "Rejected" },
  { id: "cancelled", label: "Cancelled" },
] as const;
type View = (typeof VIEWS)[number]["id"];

export const atDeadline = (request: Request) =>
  request.timeoutAction === "APPROVE"
    ? "it is approved automatically"
    : request.timeoutAction === "ESCALATE"
      ? `it goes to ${roleList(request.escalateToRoles)}`
      : "it is rejected automatically";

function Quorum({ request }: { request: Request }) {
  const pips = Array.from({ length: Math.min(request.requiredApprovals, 10) }, (_, index) => index);
  return (
    <span class="progress">
      <span aria-hidden="true" class="progress">
        {pips.map((index) => (
          <span key={index} class={`pip${index < request.approvalsCount ? " done" : ""}`} />
        ))}
      </span>
      <span>
        {request.approvalsCount} of {request.requiredApprovals} approval{request.requiredApprovals === 1 ? "" : "s"}
      </span>
    </span>
  );
}

export function ApprovalsPage({ session, route }: { session: Session; route: Route }) {
  const view = (VIEWS.find((candidate) => candidate.id === route.query.get("view"))?.id ?? "mine") as View;
  const list = usePagedList(
    (cursor) =>
      session.client.GET("/v1/approvals", {
        params: {
          query:
            view === "mine"
              ? { mine: "true", limit: 25, cursor }
              : { status: view.toUpperCase() as Request["status"], limit: 25, cursor },
        },
      }),
    [session, view],
  );
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals</h1>
      <nav aria-label="Which requests">
        <ul class="filters">
          {VIEWS.map((candidate) => (
            <li key={candidate.id}>
              <a
                href={href("approvals", { view: candidate.id === "mine" ? undefined : candidate.id })}
                aria-current={candidate.id === view ? "true" : undefined}
              >
                {candidate.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {view === "mine" ? (
        <p class="muted">
          Pending requests you may decide now: you are an allowed approver, you did not ask for the work, and you have
          not decided yet.
        </p>
      ) : null}
      <ErrorNotice error={list.error} />
      {list.data === undefined ? (
        list.loading ? (
          <Loading what="requests" />
        ) : null
      ) : list.data.items.length === 0 ? (
        <p>{view === "mine" ? "Nothing waits for your decision." : "No requests here."}</p>
      ) : (
        <table class="list" aria-label="Approval requests">
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Status</th>
              <th scope="col">Quorum</th>
              <th scope="col">Deadline</th>
              <th scope="col">Requested</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((request) => (
              <tr key={request.id}>
                <td data-label="Request">
                  <a href={href(`approvals/${request.id}`)}>
                    {request.item.orderTitle} — {request.item.type}
                  </a>
                </td>
                <td data-label="Status">
                  <Status value={request.status} />
                </td>
                <td data-label="Quorum">
                  <Quorum request={request} />
                </td>
                <td data-label="Deadline">
                  {request.deadline ? (
                    <>
                      <Time value={request.deadline} /> <span class="muted">then {atDeadline(request)}</span>
                    </>
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
                <td data-label="Requested">
                  <Time value={request.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager label="Approval requests" {...list} />
    </section>
  );
}

interface ApprovalView {
  request: RequestWithDecisions;
  payload: Record<string, unknown> | null;
  policyName: string | null;
}

async function loadApproval(session: Session, id: string): Promise<ApprovalView> {
  const { client } = session;
  const request = await client.GET("/v1/approvals/{id}", { params: { path: { id } } });
  const [activity, item, policies] = await Promise.all([
    // The request's own history names the people who decided (approvals:read reads it).
    client
      .GET("/v1/activity", { params: { query: { entityType: "approval_request", entityId: id, limit: 200 } } })
      .catch(() => undefined),
    can(session, "work:read")
      ? client.GET("/v1/work-items/{id}", { params: { path: { id: request.workItemId } } }).catch(() => undefined)
      : undefined,
    request.policyId ? client.GET("/v1/approval-policies").catch(() => undefined) : undefined,
  ]);
  for (const entry of activity?.items ?? []) rememberPerson(entry.actorId, entry.actorUser);
  const policy = policies?.items.find((candidate) => candidate.id === request.policyId);
  return { request, payload: item?.payload ?? null, policyName: policy?.name ?? null };
}

export function ApprovalPage({ session, id }: { session: Session; id: string }) {
  const loaded = useResource(() => loadApproval(session, id), [session, id], 10_000);
  // Kept here, not in the form: a decision that closes the request removes the form.
  const [outcome, setOutcome] = useState<string | null>(null);
  if (!loaded.data) return loaded.error ? <ErrorNotice error={loaded.error} /> : <Loading what="the request" />;
  const { request, payload, policyName } = loaded.data;
  const me = session.me.user.id;
  return (
    <article aria-labelledby="approval-title">
      <p>
        <a href={href("approvals")}>← Approvals</a>
      </p>
      <h1 id="approval-title">
        {request.item.type} in “{request.item.orderTitle}”
      </h1>
      <Facts
        rows={[
          ["Status", <Status key="s" value={request.status} />],
          ["Item type", <code key="t">{request.item.type}</code>],
          [
            "Work order",
            can(session, "work:read") ? (
              <a key="o" href={href(`work/${request.workOrderId}`)}>
                {request.item.orderTitle}
              </a>
            ) : (
              request.item.orderTitle
            ),
          ],
          [
            "When",
            request.gate === "BEFORE"
              ? "Before it runs: the item waits for this decision."
              : "After it ran: its result waits for this decision before it counts as done.",
          ],
          [
            "Required by",
            request.policyId
              ? `${policyName ? `the policy “${policyName}”` : `policy ${shortId(request.policyId)}`}, version ${request.policyVersion ?? "?"}`
              : "the item itself (no workspace policy)",
          ],
          [
            "Who may decide",
            `${roleList(request.approverRoles)}${request.approverUserIds.length ? ` and ${request.approverUserIds.length} named people` : ""}; never the person who asked for the work`,
          ],
          ["Quorum", <Quorum key="q" request={request} />],
          [
            "Deadline",
            request.deadline ? (
              <span key="d">
                <Time value={request.deadline} />; then {atDeadline(request)}
              </span>
            ) : (
              "none: it waits until someone decides"
            ),
          ],
          ["If rejected", request.onReject === "REWORK" ? "the item goes back to be reworked" : "the item fails"],
          ["Requested", <Time key="r" value={request.createdAt} />],
          ["Requested by", <Person key="p" id={request.requestedBy} me={me} />],
        ]}
      />
      <h2>Payload</h2>
      {payload ? (
        <JsonView value={payload} label="The item's payload" />
      ) : (
        <>
          <p class="muted">A summary of the payload (reading it whole needs the work:read scope).</p>
          <JsonView value={request.item.payloadSummary} label="Summary of the item's payload" />
        </>
      )}
      {request.status === "PENDING" && can(session, "approvals:decide") ? (
        <DecideForm
          session={session}
          request={request}
          mine={request.requestedBy === me}
          onDecided={(message) => {
            setOutcome(message);
            loaded.reload();
          }}
        />
      ) : null}
      {outcome ? <Notice kind="success">{outcome}</Notice> : null}
      <DecisionLog request={request} me={me} />
      <p class="actions">
        <a href={href("activity", { entityType: "approval_request", entityId: request.id })}>
          Activity of this request
        </a>
      </p>
    </article>
  );
}

function DecideForm(props: {
  session: Session;
  request: Request;
  mine: boolean;
  onDecided: (outcome: string) => void;
}) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const decide = async (decision: "APPROVED" | "REJECTED") => {
    if (decision === "REJECTED" && !reason.trim()) {
      setError(new Error("Say why you reject it: a rejection needs a reason."));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const after = await props.session.client.POST("/v1/approvals/{id}/decisions", {
        params: { path: { id: props.request.id } },
        body: { decision, ...(reason.trim() ? { reason: reason.trim() } : {}) },
      });
      const left = after.requiredApprovals - after.approvalsCount;
      setReason("");
      props.onDecided(
        decision === "REJECTED"
          ? "You rejected it. The request is closed."
          : after.status === "APPROVED"
            ? `You approved it. The request is approved${props.request.gate === "BEFORE" ? ": the item is queued to run" : ""}.`
            : `You approved it. It needs ${left} more approval${left === 1 ? "" : "s"}.`,
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="decide-title">
      <h2 id="decide-title">Your decision</h2>
      {props.mine ? (
        <p class="muted">You asked for this work, so the four-eyes rule leaves the decision to someone else.</p>
      ) : null}
      <div class="field">
        <label for="decision-reason">
          Reason <span class="hint">(recorded with your decision; required to reject)</span>
        </label>
        <textarea
          id="decision-reason"
          rows={3}
          maxLength={2000}
          value={reason}
          onInput={(event) => setReason(event.currentTarget.value)}
        />
      </div>
      <div class="actions">
        <button type="button" class="primary" disabled={busy} onClick={() => decide("APPROVED")}>
          Approve
        </button>
        <button type="button" class="danger" disabled={busy} onClick={() => decide("REJECTED")}>
          Reject
        </button>
      </div>
      <ErrorNotice error={error} />
    </section>
  );
}

function DecisionLog({ request, me }: { request: RequestWithDecisions; me: string }) {
  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">Decision log</h2>
      <p class="muted">Append-only: a decision is never changed or removed.</p>
      {request.decisions.length === 0 ? (
        <p>No decision yet.</p>
      ) : (
        <table class="list" aria-label="Decisions">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Decision</th>
              <th scope="col">Reason</th>
              <th scope="col">Policy version</th>
            </tr>
          </thead>
          <tbody>
            {request.decisions.map((decision) => (
              <tr key={decision.id}>
                <td data-label="When">
                  <Time value={decision.createdAt} />
                </td>
                <td data-label="Who">
                  {decision.actorType === "USER" ? (
                    <Person id={decision.actorUserId} me={me} />
                  ) : (
                    "the system (deadline)"
                  )}
                </td>
                <td data-label="Decision">
                  <Status value={decision.decision} />
                </td>
                <td data-label="Reason">{decision.reason ?? <span class="muted">—</span>}</td>
                <td data-label="Policy version">{decision.policyVersion ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
