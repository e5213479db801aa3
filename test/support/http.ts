import type { Database } from "../../db/client";
import { bootstrapWorkspace } from "../../functions/platform/workspaces";
import { allRouters } from "../../functions/routers";
import type { Actor } from "../../functions/shared/actor";
import { createApp, type Router } from "../../functions/shared/app";
import { Contract, type ContractCheck, type OpenApiDocument } from "./contract";

export function testApp(database: Database, routers: Router[] = Object.values(allRouters)): Router {
  return createApp({ database: async () => database, routers });
}

let counter = 0;
/** A new workspace with an owner and an admin key. */
export async function seedWorkspace(database: Database, name = "test") {
  counter += 1;
  const provisioned = await bootstrapWorkspace(database, {
    name: `${name} ${counter}`,
    email: `owner-${counter}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.test`,
  });
  return {
    workspaceId: provisioned.workspace.id,
    userId: provisioned.userId,
    adminKey: provisioned.apiKey.key,
  };
}

/**
 * A parsed JSON response as a test reads it: by property path, each checked by the assertion that
 * reads it (a wrong path fails that assertion). Typed \`any\` on purpose, here only.
 */
// biome-ignore lint/suspicious/noExplicitAny: see the comment above
export type ResponseBody = any;

/** The actor a seeded workspace's owner key resolves to, for calling domain functions directly. */
export const ownerActor = (seeded: { workspaceId: string; userId: string; apiKeyId?: string }): Actor => ({
  workspaceId: seeded.workspaceId,
  userId: seeded.userId,
  apiKeyId: seeded.apiKeyId ?? seeded.userId,
  scopes: ["admin"],
  role: "OWNER",
  identityVerified: true,
});

export interface CallOptions {
  key?: string;
  body?: unknown;
  /** A raw body, sent as is (malformed JSON tests). */
  raw?: string;
  headers?: Record<string, string>;
}

const contracts = new WeakMap<Router, Promise<Contract>>();
/** The app's own OpenAPI document, as a response checker (one per app). */
export function contractOf(app: Router): Promise<Contract> {
  let contract = contracts.get(app);
  if (!contract) {
    contract = Promise.resolve(app.request("/openapi.json")).then(
      async (response) => new Contract((await response.json()) as OpenApiDocument),
    );
    contracts.set(app, contract);
  }
  return contract;
}

/**
 * Calls the app in-process; returns the status, the parsed JSON body and the contract check.
 * Every response is checked against the app's `/openapi.json` (test/support/contract.ts): a
 * status the operation does not document, or a body its schema does not accept, fails the call.
 */
export async function call(app: Router, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.raw !== undefined || options.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = options.raw ?? JSON.stringify(options.body);
  }
  const response = await app.request(path, { method, headers, body });
  const text = await response.text();
  let json: ResponseBody;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  const contract: ContractCheck = (await contractOf(app)).check(
    method.toUpperCase(),
    path,
    response.status,
    json,
    response.headers.get("content-type"),
  );
  if (contract.problems.length > 0) {
    throw new Error(`The response breaks the OpenAPI document:\n${contract.problems.join("\n")}`);
  }
  return { status: response.status, body: json, headers: response.headers, contract };
}
