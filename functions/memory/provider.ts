import { type EmbeddingProvider, embeddingProviderFromEnv } from "./embeddings";

let current: EmbeddingProvider | undefined;

/** The app's embedding provider, built from the environment on first use (one per container). */
export function embeddingProvider(): EmbeddingProvider {
  current ??= embeddingProviderFromEnv();
  return current;
}

/** Replaces the provider (tests); `undefined` goes back to the environment's. */
export function setEmbeddingProvider(provider: EmbeddingProvider | undefined): void {
  current = provider;
}
