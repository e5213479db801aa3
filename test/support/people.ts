/**
 * The one place tests make people and their API keys, as a workspace does: an admin invites the
 * person (`POST /v1/members`) and the person redeems the invitation (`POST /v1/invitations/accept`,
 * keyless) for a key of their own. It takes a way to call the API (in process or over HTTP).
 */
import type { Router } from "../../functions/shared/app";
import { call, type ResponseBody } from "./http";

export type Role = "OWNER" | "ADMIN" | "MEMBER" | "APPROVER" | "VIEWER";

/** Calls the API as `key` (none: unauthenticated); resolves to the status and parsed JSON body. */
export type Api = (
  method: string,
  path: string,
  key: string | undefined,
  body?: unknown,
) => Promise<{ status: number; body: ResponseBody }>;

/** The app in-process (vitest suites on each database). */
export const inProcess =
  (app: Router): Api =>
  (method, path, key, body) =>
    call(app, method, path, { key, body });

/** A running server (`npm start` spawned by the test). */
export const overHttp =
  (baseUrl: string): Api =>
  async (method, path, key, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

export interface PersonSpec {
  email: string;
  name?: string;
  role: Role;
  scopes: string[];
}

export interface Person {
  userId: string;
  email: string;
  name: string | null;
  role: Role;
  key: string;
  keyId: string;
  keyPrefix: string;
}

/** A new member of the admin key's workspace, with an API key of their own holding `scopes`. */
export async function createPerson(api: Api, adminKey: string, spec: PersonSpec): Promise<Person> {
  const invited = await api("POST", "/v1/members", adminKey, {
    email: spec.email,
    role: spec.role,
    ...(spec.name ? { name: spec.name } : {}),
  });
  if (invited.status !== 201)
    throw new Error(`inviting ${spec.email}: ${invited.status} ${JSON.stringify(invited.body)}`);
  const key = await api("POST", "/v1/invitations/accept", undefined, {
    secret: invited.body.invitation.secret,
    name: `${spec.email} (${spec.scopes.join(" ")})`,
    scopes: spec.scopes,
  });
  if (key.status !== 201)
    throw new Error(`redeeming ${spec.email}'s invitation: ${key.status} ${JSON.stringify(key.body)}`);
  const { member } = invited.body;
  return {
    userId: member.userId,
    email: member.email,
    name: member.name ?? null,
    role: spec.role,
    key: key.body.key,
    keyId: key.body.id,
    keyPrefix: key.body.prefix,
  };
}

let counter = 0;

/** `createPerson` in process with a generated address: the person's id, key and address. */
export async function invitePerson(
  app: Router,
  adminKey: string,
  options: { role: Role; scopes: string[]; email?: string; name?: string },
) {
  counter += 1;
  const email =
    options.email ?? `${options.role.toLowerCase()}-${counter}-${Math.random().toString(36).slice(2)}@example.test`;
  return createPerson(inProcess(app), adminKey, { ...options, email });
}
