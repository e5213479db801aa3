/**
 * The one place the console's and the activity API's tests make people and their API keys.
 *
 * Today an admin adds the member (`POST /v1/members`) and mints a key for them
 * (`POST /v1/api-keys` with `userId`). When members get their first key through an invitation
 * instead, this function changes and its callers do not: it takes a way to call the API (in
 * process or over HTTP) and an admin's key, and hands back the person with a key of theirs.
 */
import type { Router } from "../../functions/shared/app";
import { call, type ResponseBody } from "./http";

export type Role = "OWNER" | "ADMIN" | "MEMBER" | "APPROVER" | "VIEWER";

/** Calls the API as `key`; resolves to the status and parsed JSON body. */
export type Api = (
  method: string,
  path: string,
  key: string,
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
        authorization: `Bearer ${key}`,
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
  const member = await api("POST", "/v1/members", adminKey, { email: spec.email, name: spec.name, role: spec.role });
  if (member.status !== 201) throw new Error(`adding ${spec.email}: ${member.status} ${JSON.stringify(member.body)}`);
  const key = await api("POST", "/v1/api-keys", adminKey, {
    name: `${spec.email} (${spec.scopes.join(" ")})`,
    scopes: spec.scopes,
    userId: member.body.userId,
  });
  if (key.status !== 201) throw new Error(`a key for ${spec.email}: ${key.status} ${JSON.stringify(key.body)}`);
  return {
    userId: member.body.userId,
    email: member.body.email,
    name: member.body.name ?? null,
    role: spec.role,
    key: key.body.key,
    keyId: key.body.id,
    keyPrefix: key.body.prefix,
  };
}
