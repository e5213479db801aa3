import type { Command } from "../command.js";
import { approvalCommands } from "./approvals.js";
import { deadLetterCommands } from "./dead-letters.js";
import { keyCommands } from "./keys.js";
import { mcpCommands } from "./mcp.js";
import { memoryCommands } from "./memories.js";
import { peopleCommands } from "./people.js";
import { profileCommands } from "./profiles.js";
import { workOrderCommands } from "./work-orders.js";

/** Every `cairn` command; a new one is one more module listed here. */
export const commands: Command[] = [
  ...memoryCommands,
  ...workOrderCommands,
  ...approvalCommands,
  ...deadLetterCommands,
  ...keyCommands,
  ...peopleCommands,
  ...profileCommands,
  ...mcpCommands,
];
