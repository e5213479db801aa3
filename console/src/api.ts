/**
 * The console's connection to Cairn: the SDK's typed client over the page's own origin, and the
 * signed-in session. The API key lives only inside the client's closure (the SDK never puts it on
 * a property) for as long as the page is open: never in storage, a cookie, a URL or a log.
 */
import { type CairnClient, createClient } from "../../sdk/src/client";
import type { components } from "../../sdk/src/schema";

export type Schemas = components["schemas"];
export type Me = Schemas["Me"];
export type Workspace = Schemas["Workspace"];
export type Scope = string;

export interface Session {
  client: CairnClient;
  me: Me;
  /** Workspaces the person belongs to (each needs its own key). */
  workspaces: Workspace[];
}

/** The console is served by the API it talks to (locally, and behind one router when deployed). */
export const apiBaseUrl = () => window.location.origin;

/** Checks the key by asking who it is; resolves to a session, or rejects with the API's error. */
export async function signIn(apiKey: string): Promise<Session> {
  const client = createClient({ baseUrl: apiBaseUrl(), apiKey, retry: { retries: 2 } });
  const me = await client.GET("/v1/me");
  const workspaces = await client.GET("/v1/workspaces").then(
    (list) => list.items,
    () => [],
  );
  return { client, me, workspaces };
}

/** Whether the session's key holds `scope` (admin holds them all), so the console hides what would be refused. */
export const can = (session: Session, scope: Scope) =>
  session.me.apiKey.scopes.includes("admin") || session.me.apiKey.scopes.includes(scope);
