/**
 * Where the CLI finds the API: `--url`, `CAIRN_URL` and `CAIRN_API_KEY`, or a named profile
 * in the config file (`$CAIRN_CONFIG`, else `$XDG_CONFIG_HOME/cairn/config.json`, else
 * `~/.config/cairn/config.json`). The key is never taken from a flag: flags end up in shell
 * history and process listings.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { isRecord } from "../errors.js";
import { UsageError } from "./command.js";

export interface Profile {
  url: string;
  apiKey: string;
}

export interface ConfigFile {
  defaultProfile?: string;
  profiles: Record<string, Profile>;
}

export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.CAIRN_CONFIG) return env.CAIRN_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "cairn", "config.json");
}

export async function readConfig(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { profiles: {} };
    throw error;
  }
  const parsed: unknown = JSON.parse(text);
  if (!isRecord(parsed) || (parsed.profiles !== undefined && !isRecord(parsed.profiles))) {
    throw new UsageError(`${path} is not a Cairn config file ({"profiles":{"name":{"url","apiKey"}}})`);
  }
  return {
    defaultProfile: typeof parsed.defaultProfile === "string" ? parsed.defaultProfile : undefined,
    profiles: (parsed.profiles ?? {}) as Record<string, Profile>,
  };
}

/** Writes the file readable by its owner only (it holds API keys): 0600, in a 0700 folder. */
export async function writeConfig(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // A rename keeps the old file whole if we die half-way; chmod covers a umask that narrowed less.
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/**
 * `--profile NAME` (or `CAIRN_PROFILE`) takes that profile's URL and key. Otherwise
 * `CAIRN_URL` / `CAIRN_API_KEY` win, each falling back to the default profile.
 */
export async function resolveConnection(
  env: NodeJS.ProcessEnv,
  flags: { profile?: string; url?: string; withoutKey?: boolean },
): Promise<Profile> {
  const path = configPath(env);
  const config = await readConfig(path);
  const named = flags.profile ?? env.CAIRN_PROFILE;
  if (named && !config.profiles[named]) throw new UsageError(`No profile "${named}" in ${path}`);
  const profile = named ? config.profiles[named] : config.profiles[config.defaultProfile ?? "default"];
  const url = flags.url ?? (named ? profile?.url : (env.CAIRN_URL ?? profile?.url));
  const apiKey = named ? profile?.apiKey : (env.CAIRN_API_KEY ?? profile?.apiKey);
  if (flags.withoutKey && url) return { url, apiKey: apiKey ?? "" };
  if (!url || !apiKey) {
    throw new UsageError(
      `No Cairn API configured: set CAIRN_URL and CAIRN_API_KEY, or create a profile with \`cairn profiles set <name> --url <url>\` (${path})`,
    );
  }
  return { url, apiKey };
}
