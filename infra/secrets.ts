/**
 * Values a deployment needs but the repository must never hold. Set each once per stage
 * (or once for all stages with `--fallback`):
 *
 *   npx sst secret set EmbeddingApiKey <key> --stage <stage>
 *
 * A deploy fails early, naming the secret, when one is missing. The Neon API key is not
 * here: it is a deploy-time credential for the Neon provider (`NEON_API_KEY`), not
 * something the functions use.
 */

/** The embedding provider's API key, for the functions that embed text (memory, events). */
export const embeddingApiKey = new sst.Secret("EmbeddingApiKey");
