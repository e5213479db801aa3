import { CairnError } from "./errors.js";
import type { components } from "./schema.js";

type Scope = components["schemas"]["AcceptInvitationInput"]["scopes"][number];
export type RedeemedKey = components["schemas"]["RedeemedInvitationKey"];

export interface AcceptInvitationOptions {
  /** e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** The invitation's secret, from the admin who invited you. */
  secret: string;
  /** A name for your new key. */
  name: string;
  scopes: Scope[];
  /**
   * One of your keys from another workspace, if you already use Cairn: it proves the invitation
   * is yours, and the new key then lists your other workspaces too.
   */
  proofKey?: string;
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * Redeems an invitation, once, for your own key in its workspace. It needs no key of its own
 * (the invitation's secret is the credential), so it is not a method of `createClient`.
 */
export async function acceptInvitation(options: AcceptInvitationOptions): Promise<RedeemedKey> {
  const url = new URL("/v1/invitations/accept", options.baseUrl);
  const request = new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.proofKey ? { authorization: `Bearer ${options.proofKey}` } : {}),
    },
    body: JSON.stringify({ secret: options.secret, name: options.name, scopes: options.scopes }),
  });
  const operation = "POST /v1/invitations/accept";
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(request);
  } catch (error) {
    throw new CairnError({
      status: 0,
      code: "network_error",
      message: (error as Error).message,
      operation,
      cause: error,
    });
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: the error carries the text.
  }
  if (!response.ok) throw CairnError.fromResponse(response, body, operation);
  return body as RedeemedKey;
}
