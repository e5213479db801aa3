import { type Command, print, requiredOption, table, UsageError } from "../command.js";
import { configPath, readConfig, writeConfig } from "../config.js";
import { readAll } from "../input.js";

export const profileCommands: Command[] = [
  {
    path: ["profiles", "set"],
    summary:
      "Save a profile (URL + API key) in the config file, mode 0600; the key is read from stdin or CAIRN_API_KEY",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    needsApi: false,
    options: {
      url: { type: "string", description: "the API's base URL (required)" },
      default: { type: "boolean", description: "make it the default profile" },
    },
    async run(context) {
      const [name = ""] = context.positionals;
      const url = requiredOption(context, "url");
      // Never a flag: it would sit in shell history and process listings.
      const apiKey =
        (context.stdin.isTTY ? context.env.CAIRN_API_KEY : (await readAll(context.stdin)).trim()) ||
        context.env.CAIRN_API_KEY;
      if (!apiKey) throw new UsageError("pipe the API key on stdin, or set CAIRN_API_KEY");
      const path = configPath(context.env);
      const config = await readConfig(path);
      config.profiles[name] = { url, apiKey };
      if (context.values.default === true || !config.defaultProfile) config.defaultProfile = name;
      await writeConfig(path, config);
      print(
        context,
        { profile: name, url, path, default: config.defaultProfile === name },
        () => `saved profile ${name} (${url}) in ${path}`,
      );
      return undefined;
    },
  },
  {
    path: ["profiles", "ls"],
    summary: "List saved profiles (never their keys)",
    needsApi: false,
    async run(context) {
      const config = await readConfig(configPath(context.env));
      const profiles = Object.entries(config.profiles).map(([name, profile]) => ({
        name,
        url: profile.url,
        default: name === config.defaultProfile,
      }));
      print(context, profiles, () =>
        table(
          ["NAME", "URL", "DEFAULT"],
          profiles.map((profile) => [profile.name, profile.url, profile.default ? "*" : ""]),
        ),
      );
      return undefined;
    },
  },
];
