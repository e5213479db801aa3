/**
 * How the functions that embed text (memory, events) reach the embedding provider. Both must
 * agree, or stored vectors and query vectors would come from different models.
 *
 * The deployed default is an OpenAI-compatible API (`functions/memory/embeddings.ts`); the
 * provider, base URL, model and dimensions can be changed per deploy through the same
 * `CAIRN_EMBEDDING_*` variables the runtime reads, set in the shell running `sst deploy`.
 * Changing model or dimensions on a stage with data means re-embedding it.
 */
import { embeddingApiKey } from "./secrets";

const fromDeployShell = (name: string, fallback?: string) => process.env[name] ?? fallback;

const settings: Record<string, string | undefined> = {
  CAIRN_EMBEDDING_PROVIDER: fromDeployShell("CAIRN_EMBEDDING_PROVIDER", "openai"),
  CAIRN_EMBEDDING_BASE_URL: fromDeployShell("CAIRN_EMBEDDING_BASE_URL"),
  CAIRN_EMBEDDING_MODEL: fromDeployShell("CAIRN_EMBEDDING_MODEL"),
  CAIRN_EMBEDDING_DIMENSIONS: fromDeployShell("CAIRN_EMBEDDING_DIMENSIONS"),
};

/** Environment for a function that embeds: the provider settings and the API key. */
export const embeddingEnvironment: Record<string, $util.Input<string>> = {
  ...Object.fromEntries(Object.entries(settings).filter((entry): entry is [string, string] => entry[1] !== undefined)),
  CAIRN_EMBEDDING_API_KEY: embeddingApiKey.value,
};
