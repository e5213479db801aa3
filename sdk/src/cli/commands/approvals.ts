import type { paths } from "../../schema.js";
import { type Command, type CommandContext, print, requiredOption, stringOption, table } from "../command.js";

type ApprovalQuery = NonNullable<paths["/v1/approvals"]["get"]["parameters"]["query"]>;

const idArg = { args: "<id>", positionals: { min: 1, max: 1 } };

async function decide(context: CommandContext, decision: "APPROVED" | "REJECTED", reason: string | undefined) {
  const [id = ""] = context.positionals;
  const request = await context.client().POST("/v1/approvals/{id}/decisions", {
    params: { path: { id } },
    body: reason ? { decision, reason } : { decision },
  });
  print(
    context,
    request,
    () => `${request.id}  ${request.status}  ${request.approvalsCount}/${request.requiredApprovals} approvals`,
  );
  return undefined;
}

export const approvalCommands: Command[] = [
  {
    path: ["approvals", "ls"],
    summary: "List approval requests, oldest deadline first",
    options: {
      status: { type: "string", description: "PENDING, APPROVED, REJECTED, EXPIRED…" },
      mine: { type: "boolean", description: "only requests you may decide now" },
      limit: { type: "string", description: "page size, 1..200 (default 50)" },
    },
    async run(context) {
      const status = stringOption(context, "status");
      const limit = stringOption(context, "limit");
      const page = await context.client().GET("/v1/approvals", {
        params: {
          query: {
            ...(status ? { status: status as ApprovalQuery["status"] } : {}),
            ...(context.values.mine === true ? { mine: "true" as const } : {}),
            ...(limit ? { limit: Number(limit) } : {}),
          },
        },
      });
      print(context, page, () =>
        table(
          ["ID", "STATUS", "GATE", "TYPE", "APPROVALS", "DEADLINE", "ORDER"],
          page.items.map((request) => [
            request.id,
            request.status,
            request.gate,
            request.item.type,
            `${request.approvalsCount}/${request.requiredApprovals}`,
            request.deadline,
            request.item.orderTitle,
          ]),
        ),
      );
      return undefined;
    },
  },
  {
    path: ["approvals", "approve"],
    summary: "Approve a request",
    ...idArg,
    options: { reason: { type: "string", description: "why (optional)" } },
    run: (context) => decide(context, "APPROVED", stringOption(context, "reason")),
  },
  {
    path: ["approvals", "reject"],
    summary: "Reject a request",
    ...idArg,
    options: { reason: { type: "string", description: "why (required)" } },
    run: (context) => decide(context, "REJECTED", requiredOption(context, "reason")),
  },
];
