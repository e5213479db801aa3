import type { components } from "../../schema.js";
import { type Command, print, requiredOption, stringOption } from "../command.js";
import { readJsonInput } from "../input.js";

export const workOrderCommands: Command[] = [
  {
    path: ["work-orders", "create"],
    summary: "Create a work order with its items from a JSON file (the body of POST /v1/work-orders)",
    options: {
      file: { type: "string", short: "f", description: "order JSON file, or - for stdin (required)" },
      "idempotency-key": {
        type: "string",
        description: "re-running with the same key returns the order created the first time (default: a new key)",
      },
    },
    async run(context) {
      const body = await readJsonInput(requiredOption(context, "file"), context.stdin);
      const key = stringOption(context, "idempotency-key");
      const order = await context.client().POST("/v1/work-orders", {
        // The file goes as it is: the server validates it.
        body: body as components["schemas"]["CreateWorkOrderInput"],
        params: { header: key ? { "Idempotency-Key": key } : {} },
      });
      print(context, order, () => `${order.id}  ${order.status}  ${order.items.length} items  ${order.title}`);
      return undefined;
    },
  },
];
