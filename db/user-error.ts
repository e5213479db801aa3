/**
 * A refusal whose message is a complete sentence for the person at the terminal (a port in use,
 * a data folder another process holds): command-line entry points print the message alone, with
 * no stack trace, and exit non-zero. Anything else that fails is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = "UserError";
}

/** What a command-line entry point prints when it fails: the sentence of a refusal, the stack of anything else. */
export function describeFailure(error: unknown): string {
  if (error instanceof UserError) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
