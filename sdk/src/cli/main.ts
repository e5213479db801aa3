/** `cairn <group> <command> [options]`: finds the command, parses its options, runs it, maps failures to exit codes. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type CairnClient, createClient } from "../client.js";
import { CairnError } from "../errors.js";
import { type Command, type CommandContext, EXIT, type OptionSpec, table, UsageError } from "./command.js";
import { commands as defaultCommands } from "./commands/index.js";
import { resolveConnection } from "./config.js";

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print one JSON document on stdout (errors as JSON on stderr)" },
  profile: { type: "string", description: "use this profile of the config file" },
  url: { type: "string", description: "the API's base URL (overrides CAIRN_URL and the profile)" },
  help: { type: "boolean", short: "h", description: "show help" },
};

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: CommandContext["stdout"];
  stderr: CommandContext["stderr"];
  stdin: CommandContext["stdin"];
}

export async function runCli(argv: string[], io: CliIo, commands: Command[] = defaultCommands): Promise<number> {
  const json = argv.includes("--json");
  try {
    return await dispatch(argv, io, commands);
  } catch (error) {
    return reportError(error, io, json);
  }
}

async function dispatch(argv: string[], io: CliIo, commands: Command[]): Promise<number> {
  const loose = parseArgs({ args: argv, options: GLOBAL_OPTIONS, strict: false, allowPositionals: true });
  const words = loose.positionals;
  if (words.length === 0) {
    if (argv.includes("--version") || argv.includes("-v")) {
      io.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    io.stdout.write(topHelp(commands));
    return loose.values.help === true ? EXIT.ok : EXIT.usage;
  }
  const command = commands
    .filter((candidate) => candidate.path.every((word, i) => words[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!command) {
    const group = commands.filter((candidate) => candidate.path[0] === words[0]);
    if (group.length === 0) throw new UsageError(`unknown command "${words[0]}"`);
    io.stdout.write(topHelp(group));
    return loose.values.help === true ? EXIT.ok : EXIT.usage;
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]} (see cairn ${command.path.join(" ")} --help)`);
  }
  if (parsed.values.help === true) {
    io.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  const positionals = parsed.positionals.slice(command.path.length);
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(
      `${command.path.join(" ")} takes ${command.args ?? "no arguments"} (see cairn ${command.path.join(" ")} --help)`,
    );
  }
  const profile = typeof parsed.values.profile === "string" ? parsed.values.profile : undefined;
  let client: CairnClient | undefined;
  if (command.needsApi !== false) {
    const connection = await resolveConnection(io.env, {
      profile,
      url: typeof parsed.values.url === "string" ? parsed.values.url : undefined,
    });
    try {
      client = createClient({ baseUrl: connection.url, apiKey: connection.apiKey });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const context: CommandContext = {
    positionals,
    values: parsed.values,
    json: parsed.values.json === true,
    client: () => {
      if (!client) throw new Error(`${command.path.join(" ")} does not use the API`);
      return client;
    },
    profile,
    ...io,
  };
  return (await command.run(context)) ?? EXIT.ok;
}

function reportError(error: unknown, io: CliIo, json: boolean): number {
  if (error instanceof UsageError) {
    io.stderr.write(
      json ? `${JSON.stringify({ error: { code: "usage", message: error.message } })}\n` : `cairn: ${error.message}\n`,
    );
    return EXIT.usage;
  }
  if (error instanceof CairnError) {
    const body = { error: { status: error.status, code: error.code, message: error.message, details: error.details } };
    io.stderr.write(
      json
        ? `${JSON.stringify(body)}\n`
        : `cairn: ${error.operation} failed: ${error.status || "no response"} ${error.code}: ${error.message}${detailsText(error.details)}\n`,
    );
    return EXIT.api;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(json ? `${JSON.stringify({ error: { code: "internal", message } })}\n` : `cairn: ${message}\n`);
  return EXIT.api;
}

function detailsText(details: unknown): string {
  if (Array.isArray(details)) {
    return details
      .map((issue) => {
        const { path, message } = (issue ?? {}) as { path?: unknown; message?: unknown };
        return `\n  ${typeof path === "string" && path ? `${path}: ` : ""}${typeof message === "string" ? message : JSON.stringify(issue)}`;
      })
      .join("");
  }
  return details === undefined ? "" : `\n  ${JSON.stringify(details)}`;
}

function version(): string {
  // src/cli/ and dist/cli/ both sit two folders below the package's package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const optionLines = (options: Record<string, OptionSpec>) =>
  Object.entries(options).map(([name, spec]) => [
    `  ${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.type === "string" ? " <value>" : ""}`,
    spec.description,
  ]);

function commandHelp(command: Command): string {
  const lines = [
    `usage: cairn ${command.path.join(" ")}${command.args ? ` ${command.args}` : ""} [options]`,
    "",
    command.summary,
    "",
    "options:",
    table(["", ""], optionLines({ ...command.options, ...GLOBAL_OPTIONS }))
      .split("\n")
      .slice(1)
      .join("\n"),
  ];
  return `${lines.join("\n")}\n`;
}

function topHelp(commands: Command[]): string {
  const rows = commands.map((command) => [
    `  cairn ${command.path.join(" ")}${command.args ? ` ${command.args}` : ""}`,
    command.summary,
  ]);
  return `${[
    "usage: cairn <command> [options]   (cairn <command> --help for its options)",
    "",
    table(["", ""], rows).split("\n").slice(1).join("\n"),
    "",
    "global options:",
    table(["", ""], optionLines(GLOBAL_OPTIONS)).split("\n").slice(1).join("\n"),
    "",
    "configuration: CAIRN_URL and CAIRN_API_KEY, or a profile (--profile, CAIRN_PROFILE) in",
    "  $CAIRN_CONFIG or ~/.config/cairn/config.json; cairn profiles set <name> --url <url> writes one.",
    "",
    `exit codes: ${EXIT.ok} ok, ${EXIT.api} API error or unreachable, ${EXIT.usage} usage or configuration error,`,
    `  ${EXIT.partial} import finished with rejected lines, ${EXIT.interrupted} interrupted`,
  ].join("\n")}\n`;
}
