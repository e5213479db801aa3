/**
 * Several statements in one round trip, on node-postgres and the Neon driver (a fork of it).
 *
 * The driver sends each query and waits for its answer before the next. A pipeline writes every
 * statement's Parse/Bind/Describe/Execute and then one Sync, and reads the answers together: the
 * server runs them in order and, after a failure, skips the rest up to the Sync. It is a
 * "submittable" (the driver's extension point, as pg-cursor uses): the client hands it the
 * connection and routes each backend message to it; each statement's rows are parsed by one of the
 * driver's own Query objects, so row modes and type parsers behave as for a plain query.
 */

/** What a pipeline needs of a driver's query (node-postgres' and Neon's Query classes). */
interface DriverQuery {
  callback?: (error: Error | null, result?: unknown) => void;
  prepare(connection: unknown): void;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: unknown): void;
  handleError(error: Error, connection: unknown): void;
  handleReadyForQuery(connection: unknown): void;
}

type QueryClass = new (config: unknown, values?: unknown) => DriverQuery;

/** A node-postgres or Neon client (a pooled one): `query` accepts a submittable. */
export interface PipelineClient {
  query(submittable: unknown): unknown;
  constructor: unknown;
}

/** One statement of a pipeline: a driver query config (text, rowMode, types…) and its values. */
export interface PipelinedStatement {
  config: unknown;
  values?: unknown[];
}

/** Raised for the statements a failure made the server skip. */
export class SkippedStatement extends Error {
  constructor(override readonly cause: unknown) {
    super("not run: an earlier statement of the same round trip failed");
  }
}

class Pipeline {
  private current = 0;
  private settled = false;
  readonly results: Array<{ error?: unknown; result?: unknown }>;

  constructor(
    private readonly queries: DriverQuery[],
    private readonly done: () => void,
  ) {
    this.results = queries.map(() => ({}));
    queries.forEach((query, index) => {
      query.callback = (error, result) => {
        this.results[index] = error ? { error } : { result };
      };
    });
  }

  /**
   * The name and text of the statement being answered. The client reads them off its active
   * query (this pipeline) when the server confirms a Parse, to record the named statements this
   * connection has prepared (so the next use skips its Parse), and on an error.
   */
  get name(): string | undefined {
    return (this.queries[this.current] as { name?: string } | undefined)?.name;
  }

  get text(): string | undefined {
    return (this.queries[this.current] as { text?: string } | undefined)?.text;
  }

  submit(connection: { sync(): void; stream: { cork?(): void; uncork?(): void } }): null {
    // Each query writes its messages as usual but its Sync is held back: one Sync closes them all.
    const withoutSync = Object.create(connection, { sync: { value: () => {} } });
    connection.stream.cork?.();
    try {
      for (const query of this.queries) query.prepare(withoutSync);
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: unknown) {
    this.queries[this.current]?.handleRowDescription(message);
  }

  handleDataRow(message: unknown) {
    this.queries[this.current]?.handleDataRow(message);
  }

  handleCommandComplete(message: unknown, connection: unknown) {
    const query = this.queries[this.current++];
    query?.handleCommandComplete(message, connection);
    // Settles that query: its result is complete once its CommandComplete arrived.
    query?.handleReadyForQuery(connection);
  }

  handleEmptyQuery(connection: unknown) {
    this.queries[this.current++]?.handleReadyForQuery(connection);
  }

  handlePortalSuspended() {}

  handleError(error: Error, connection: unknown) {
    // The client stops routing messages to this pipeline after an error (it waits for the
    // ReadyForQuery that the Sync already asked for), so the pipeline settles here.
    this.queries[this.current]?.handleError(error, connection);
    // node-postgres notes a named statement as prepared when its Parse is written; the server
    // skipped the Parse of those after the failure, so they must be parsed again next time.
    const submitted = (connection as { submittedNamedStatements?: Record<string, string> }).submittedNamedStatements;
    for (let index = this.current + 1; index < this.queries.length; index++) {
      this.results[index] = { error: new SkippedStatement(error) };
      const name = (this.queries[index] as { name?: string }).name;
      if (name && submitted) delete submitted[name];
    }
    this.settle();
  }

  handleReadyForQuery() {
    this.settle();
  }

  handleCopyInResponse() {}
  handleCopyData() {}

  private settle() {
    if (this.settled) return;
    this.settled = true;
    this.done();
  }
}

/**
 * Runs `statements` in one round trip and returns each one's outcome, in order: a result, or
 * the error it raised, or `SkippedStatement` for those after a failure. Outside a transaction
 * block they form one implicit transaction (committed at the Sync, rolled back on an error).
 */
export function runPipeline(
  client: PipelineClient,
  statements: PipelinedStatement[],
): Promise<Array<{ error?: unknown; result?: unknown }>> {
  const Query = (client.constructor as { Query: QueryClass }).Query;
  return new Promise((resolve, reject) => {
    const pipeline = new Pipeline(
      statements.map((statement) => new Query(statement.config, statement.values)),
      () => resolve(pipeline.results),
    );
    const submitted = client.query(
      Object.assign(pipeline, {
        // The client calls this when it cannot send at all (a closed connection).
        callback: (error: Error | null) => {
          if (error) reject(error);
        },
      }),
    );
    void submitted;
  });
}
