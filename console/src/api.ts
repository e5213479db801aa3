/**
 * The console's connection to Cairn: the SDK's typed client over the page's own origin, and the
 * signed-in session. The API key lives only inside the client's closure (the SDK never puts it on
 * a property) for as long as the page is open: never in storage, a cookie, a URL or a log.
 */
import { type CairnClient, createClient } from "../../sdk/src/client";
import type { components } from "../../sdk/src/schema";

export type Schemas = components["schemas"];
/** Who a person's key is: the console signs in people only, so there is always a user. */
export type Me = Schemas["Me"] & { user: NonNullable<Schemas["Me"]["user"]> };
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

/** A service key acts as no person: approvals and "mine" need one, so the console refuses it. */
export class ServiceKeyRefused extends Error {
  override readonly name = "ServiceKeyRefused";
  constructor() {
    super("This is a service key, which acts as no person: sign in with your own key (from your invitation)");
  }
}

/**
 * Checks the key by asking who it is; resolves to a session, or rejects with the API's error (or
 * ServiceKeyRefused).
 */
export async function signIn(apiKey: string): Promise<Session> {
  const client = createClient({ baseUrl: apiBaseUrl(), apiKey, retry: { retries: 2 } });
  const found = await client.GET("/v1/me");
  if (found.user === null) throw new ServiceKeyRefused();
  const me: Me = { ...found, user: found.user };
  const workspaces = await client.GET("/v1/workspaces").then(
    (list) => list.items,
    () => [],
  );
  return { client, me, workspaces };
}

/**
 * Whether the session's key may use `scope` now (within the person's role; admin holds them all),
 * so the console hides what would be refused.
 */
export const can = (session: Session, scope: Scope) =>
  session.me.apiKey.effectiveScopes.includes("admin") || session.me.apiKey.effectiveScopes.includes(scope);
