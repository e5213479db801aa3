import type { paths } from "../../schema.js";
import { type Command, print, requiredOption, stringOption, table } from "../command.js";
import { readJsonInput } from "../input.js";

type DeadLetterQuery = NonNullable<paths["/v1/dead-letters"]["get"]["parameters"]["query"]>;

const idArg = { args: "<id>", positionals: { min: 1, max: 1 } };

export const deadLetterCommands: Command[] = [
  {
    path: ["dead-letters", "ls"],
    summary: "List dead letters, newest first",
    options: {
      status: { type: "string", description: "OPEN, REDRIVEN, DISCARDED…" },
      limit: { type: "string", description: "page size, 1..200 (default 50)" },
    },
    async run(context) {
      const status = stringOption(context, "status");
      const limit = stringOption(context, "limit");
      const page = await context.client().GET("/v1/dead-letters", {
        params: {
          query: {
            ...(status ? { status: status as DeadLetterQuery["status"] } : {}),
            ...(limit ? { limit: Number(limit) } : {}),
          },
        },
      });
      print(context, page, () =>
        table(
          ["ID", "STATUS", "SOURCE", "REDRIVES", "CREATED", "REASON"],
          page.items.map((letter) => [
            letter.id,
            letter.status,
            letter.source,
            `${letter.redriveCount}/${letter.maxRedrives}`,
            letter.createdAt,
            letter.reason.slice(0, 80),
          ]),
        ),
      );
      return undefined;
    },
  },
  {
    path: ["dead-letters", "show"],
    summary: "Show a dead letter with every attempt's error",
    ...idArg,
    async run(context) {
      const [id = ""] = context.positionals;
      const letter = await context.client().GET("/v1/dead-letters/{id}", { params: { path: { id } } });
      print(context, letter, () => JSON.stringify(letter, null, 2));
      return undefined;
    },
  },
  {
    path: ["dead-letters", "redrive"],
    summary: "Requeue the dead-lettered item with a fresh attempt budget",
    ...idArg,
    options: { payload: { type: "string", description: "JSON file (or -) replacing the item's payload" } },
    async run(context) {
      const [id = ""] = context.positionals;
      const file = stringOption(context, "payload");
      const payload = file === undefined ? undefined : await readJsonInput(file, context.stdin);
      const redriven = await context.client().POST("/v1/dead-letters/{id}/redrive", {
        params: { path: { id } },
        body: payload === undefined ? {} : { payload: payload as Record<string, unknown> },
      });
      print(
        context,
        redriven,
        () => `${redriven.deadLetter.id}  ${redriven.deadLetter.status}  item ${redriven.workItemId} requeued`,
      );
      return undefined;
    },
  },
  {
    path: ["dead-letters", "discard"],
    summary: "Mark a dead letter discarded (it is kept, with who and why)",
    ...idArg,
    options: { reason: { type: "string", description: "why (required)" } },
    async run(context) {
      const [id = ""] = context.positionals;
      const letter = await context.client().POST("/v1/dead-letters/{id}/discard", {
        params: { path: { id } },
        body: { reason: requiredOption(context, "reason") },
      });
      print(context, letter, () => `${letter.id}  ${letter.status}`);
      return undefined;
    },
  },
];
