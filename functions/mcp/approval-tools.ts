/**
 * Approvals as tools. An agent asks a person before it acts: `request_approval` turns the
 * action into a work order with one item of that type, gated BEFORE it runs; the request is
 * decided by people through the API (four-eyes: never by the requester); `get_approval` and
 * `wait_for_approval` follow it.
 */
import { z } from "@hono/zod-openapi";
import type { Tx } from "../../db/client";
import { ApprovalListQuery, getApproval, listApprovals } from "../approvals/requests";
import { Conflict } from "../shared/errors";
import { IdParam } from "../shared/openapi";
import { parseInput } from "../shared/validation";
import { CreateWorkItemInput, CreateWorkOrderInput, createWorkOrder, IdempotencyKey } from "../work-orders/work-orders";
import { defineTool, type McpContext, sleep } from "./tool";

/** What `wait_for_approval` accepts; a deployment may cap it lower (McpLimits.maxWaitSeconds). */
export const MAX_WAIT_SECONDS = 120;
export const DEFAULT_WAIT_SECONDS = 30;

const ApprovalRequestId = IdParam.shape.id.describe("The approvalRequestId that request_approval returned");

type ApprovalRequest = Awaited<ReturnType<typeof getApproval>>;

/** The request as the API shows it (decisions in order, with who decided), and whether it is decided. */
function approvalView(request: ApprovalRequest) {
  return { ...request, final: request.status !== "PENDING" };
}

const RequestApprovalInput = z.strictObject({
  action: CreateWorkItemInput.shape.type.describe(
    "What you want to do, as a short action type, e.g. 'send_email', 'refund_payment', 'deploy_production'",
  ),
  reason: CreateWorkOrderInput.shape.description
    .unwrap()
    .trim()
    .min(1)
    .describe("Why, for the person deciding: the context and what happens if approved"),
  payload: CreateWorkItemInput.shape.payload.describe(
    'The exact parameters of the action (JSON object), e.g. {"to": "…", "amount": 120}; approval policies may match on them',
  ),
  priority: CreateWorkOrderInput.shape.priority.describe("LOW, MEDIUM (default), HIGH or URGENT"),
  idempotencyKey: IdempotencyKey.optional().describe(
    "Makes the request safe to retry: the same key and arguments return the original request instead of a second one",
  ),
});

async function requestApproval(tx: Tx, ctx: McpContext, input: z.output<typeof RequestApprovalInput>) {
  const created = await createWorkOrder(
    tx,
    ctx.actor,
    {
      title: `Approval requested: ${input.action}`,
      description: input.reason,
      priority: input.priority,
      metadata: { requestedVia: "mcp", action: input.action },
      items: [{ type: input.action, payload: input.payload }],
    },
    // Under the workspace's policies, moved before the action (approvals/gates.ts beforeTheAction).
    { idempotencyKey: input.idempotencyKey, approvalBefore: true },
  );
  const [item] = created.items;
  if (!item) throw new Error("createWorkOrder returned an order without its item");
  // A replay (same idempotency key) opens nothing: the request is the one opened the first time.
  const requestId =
    created.approvalRequestIds[0] ??
    (await listApprovals(tx, ctx.actor, parseInput(ApprovalListQuery, { workItemId: item.id, limit: 1 }))).items[0]?.id;
  if (!requestId)
    throw new Conflict("The work order for this idempotency key has no approval request", { workItemId: item.id });
  const request = await getApproval(tx, ctx.actor, requestId);
  return {
    approvalRequestId: request.id,
    workItemId: item.id,
    workOrderId: created.order.id,
    status: request.status,
    requiredApprovals: request.requiredApprovals,
    approverRoles: request.approverRoles,
    approverUserIds: request.approverUserIds,
    deadline: request.deadline,
    timeoutAction: request.timeoutAction,
    policyId: request.policyId,
    policyVersion: request.policyVersion,
    created: created.created,
    next:
      "Do not act yet. Call wait_for_approval with this approvalRequestId (again while it is still pending). If " +
      "APPROVED, the item is queued: act, and to record the outcome claim it (claim_work_item with types " +
      `["${input.action}"]) and complete it. If REJECTED, do not act; the decisions say why.`,
  };
}

export const requestApprovalTool = defineTool({
  name: "request_approval",
  title: "Ask a person to approve an action",
  description:
    "Ask people in the workspace for permission BEFORE taking an action that is risky, irreversible, costly or " +
    "outside what you were asked to do (sending messages for someone, spending money, deleting or deploying). " +
    "Describe the action, why, and its exact parameters; it becomes a work order with one item of that action type " +
    "that waits for approval under the workspace's approval policies (approvers, quorum, deadline). You can never " +
    "approve your own request. Returns the approvalRequestId (follow it with wait_for_approval or get_approval), the " +
    "workItemId and who may decide.",
  scope: "work:write",
  input: RequestApprovalInput,
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  run: (ctx, input) => ctx.tenant((tx) => requestApproval(tx, ctx, input)),
});

export const getApprovalTool = defineTool({
  name: "get_approval",
  title: "Get an approval request",
  description:
    "Read an approval request now, without waiting: its status (PENDING, APPROVED, REJECTED or CANCELLED), how " +
    "many approvals it has and needs, its deadline, the item it gates, and every decision in order with who decided " +
    "(actorUserId), the decision and the reason. `final` is true once it is decided.",
  scope: "approvals:read",
  input: z.strictObject({ approvalRequestId: ApprovalRequestId }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, input) =>
    approvalView(await ctx.tenant((tx) => getApproval(tx, ctx.actor, input.approvalRequestId))),
});

export const waitForApprovalTool = defineTool({
  name: "wait_for_approval",
  title: "Wait for an approval decision",
  description:
    "Wait until people decide an approval request, up to timeoutSeconds (1..120, default 30; a deployment may " +
    "allow less per call), with progress notifications while it waits. Returns the request with its final status " +
    "(APPROVED, REJECTED or CANCELLED) and decisions (who decided, what, why) as soon as it is decided; otherwise " +
    "status PENDING with final false after the timeout. Safe to call again and again until it is final; act only " +
    "on APPROVED.",
  scope: "approvals:read",
  input: z.strictObject({
    approvalRequestId: ApprovalRequestId,
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_WAIT_SECONDS)
      .default(DEFAULT_WAIT_SECONDS)
      .describe(`How long to wait at most, 1..${MAX_WAIT_SECONDS} s (default ${DEFAULT_WAIT_SECONDS})`),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  run: async (ctx, input) => {
    const limitSeconds = Math.min(input.timeoutSeconds, ctx.limits.maxWaitSeconds);
    const started = Date.now();
    // Each poll is its own short transaction: a wait holds no connection and no lock.
    for (;;) {
      const request = await ctx.tenant((tx) => getApproval(tx, ctx.actor, input.approvalRequestId));
      const waitedSeconds = (Date.now() - started) / 1000;
      if (request.status !== "PENDING") {
        return { ...approvalView(request), waitedSeconds, message: `The request is ${request.status}.` };
      }
      const remainingMs = limitSeconds * 1000 - (Date.now() - started);
      if (remainingMs <= 0 || ctx.signal.aborted) {
        return {
          ...approvalView(request),
          waitedSeconds,
          message: `Still pending after ${Math.round(waitedSeconds)} s: call wait_for_approval again to keep waiting. Do not act until it is APPROVED.`,
        };
      }
      await ctx.progress(
        waitedSeconds,
        limitSeconds,
        `Pending: ${request.approvalsCount} of ${request.requiredApprovals} approvals after ${Math.round(waitedSeconds)} s`,
      );
      await sleep(Math.min(ctx.limits.pollIntervalMs, remainingMs), ctx.signal);
    }
  },
});

export const approvalTools = [requestApprovalTool, getApprovalTool, waitForApprovalTool];
