/** The database's own message of a failed query (Drizzle wraps driver errors in `cause`). */
export async function databaseError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    let e: unknown = error;
    while ((e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
    return (e as Error).message;
  }
  throw new Error("expected the statement to fail, but it succeeded");
}
