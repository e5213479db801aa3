/**
 * What a Cairn MCP tool is: a name and a description written for a model, the scope its API
 * key needs, an input schema built from the API's own zod schemas, and a function of the
 * parsed input. Tools know nothing of HTTP or MCP sessions: they get a `McpContext`.
 */
import { z } from "@hono/zod-openapi";
import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { Tx } from "../../db/client";
import type { Actor, Scope } from "../shared/actor";
import { parseInput } from "../shared/validation";

export interface McpLimits {
  /** The longest `wait_for_approval` blocks in one call, whatever the caller asks for. */
  maxWaitSeconds: number;
  /** How often a wait re-reads the approval request. */
  pollIntervalMs: number;
}

/** What a tool call may use: the caller, its tenant transaction, cancellation and progress. */
export interface McpContext {
  actor: Actor;
  /** Runs `fn` in one transaction as the caller's workspace (RLS applies), like a route's `inTenant`. */
  tenant<T>(fn: (tx: Tx) => Promise<T>, settings?: Record<string, string>): Promise<T>;
  /** Aborted when the client cancels the call or goes away. */
  signal: AbortSignal;
  /** Reports progress if the client asked for it (sent a progress token); otherwise does nothing. */
  progress(progress: number, total: number | undefined, message: string): Promise<void>;
  limits: McpLimits;
}

export interface ToolDefinition<S extends z.ZodType> {
  name: string;
  title: string;
  description: string;
  /** The scope the API key needs: without it the tool is not listed, and calling it is `forbidden`. */
  scope: Scope;
  input: S;
  annotations?: ToolAnnotations;
  run(ctx: McpContext, input: z.output<S>): Promise<unknown>;
}

/** A tool with its input type erased, so tools of every shape fit in one list. */
export interface CairnTool {
  name: string;
  title: string;
  description: string;
  scope: Scope;
  /** The input schema as JSON Schema (what `tools/list` shows). */
  inputJsonSchema: JsonObjectSchema;
  annotations?: ToolAnnotations;
  /** Parses `args` with the tool's schema (a bad one is the API's 400 `validation_failed`), then runs it. */
  call(ctx: McpContext, args: unknown): Promise<unknown>;
}

export type JsonObjectSchema = { type: "object"; [key: string]: unknown };

export function defineTool<S extends z.ZodType>(definition: ToolDefinition<S>): CairnTool {
  const { input, run, ...rest } = definition;
  return {
    ...rest,
    inputJsonSchema: inputJsonSchema(input),
    call: (ctx, args) =>
      run(ctx, parseInput(input, args, { message: `The arguments of ${definition.name} are not valid` })),
  };
}

/**
 * JSON Schema of what a caller sends (`io: "input"`: defaults are optional). The API's schemas
 * hold two things JSON Schema cannot say: coerced dates, which callers send as ISO 8601
 * strings (said so here), and `z.custom` checks, shown as "any value" (the tools leave out the
 * one field that has them, client-supplied embedding vectors).
 */
export function inputJsonSchema(schema: z.ZodType): JsonObjectSchema {
  const json = z.toJSONSchema(schema, {
    io: "input",
    target: "draft-7",
    unrepresentable: "any",
    override: (ctx) => {
      if (ctx.zodSchema._zod.def.type === "date") {
        ctx.jsonSchema.type = "string";
        ctx.jsonSchema.format = "date-time";
      }
    },
  }) as Record<string, unknown>;
  // MCP wants the object schema itself; the dialect marker adds nothing for a client.
  const { $schema: _dialect, ...rest } = json;
  if (rest.type !== "object") throw new Error("A tool's input schema must be an object schema");
  return rest as JsonObjectSchema;
}

/** Waits `ms`, or less if `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
