import type { Readable, Writable } from "node:stream";
import { type Command, EXIT } from "../command.js";
import { resolveConnection } from "../config.js";

export const mcpCommands: Command[] = [
  {
    path: ["mcp"],
    summary: "Serve Cairn's MCP tools on stdio for a desktop MCP client (forwards to the server's /mcp)",
    needsApi: false,
    async run(context) {
      // Checked before anything starts: stdout is the protocol, so problems go to stderr.
      const connection = await resolveConnection(context.env, { profile: context.profile });
      // Loaded here: the MCP SDK is only needed by this command.
      const { startStdioBridge } = await import("../../mcp-bridge.js");
      const bridge = await startStdioBridge({
        url: connection.url,
        apiKey: connection.apiKey,
        stdin: context.stdin as Readable,
        stdout: context.stdout as Writable,
        log: (line) => context.stderr.write(`cairn mcp: ${line}\n`),
      });
      // The client closing our stdin is how a stdio MCP session ends; a signal ends it too.
      await new Promise<void>((resolve) => {
        context.stdin.once("end", resolve);
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await bridge.close();
      return EXIT.ok;
    },
  },
];
