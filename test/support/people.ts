import { expect } from "vitest";
import type { Router } from "../../functions/shared/app";
import { call } from "./http";

let counter = 0;

/**
 * A new member with a role and their own key: an admin invites them (`POST /v1/members`) and
 * the invitation is redeemed (`POST /v1/invitations/accept`) for a key with `scopes`.
 */
export async function invitePerson(
  app: Router,
  adminKey: string,
  options: { role: string; scopes: string[]; email?: string; name?: string },
) {
  counter += 1;
  const email =
    options.email ?? `${options.role.toLowerCase()}-${counter}-${Math.random().toString(36).slice(2)}@example.test`;
  const added = await call(app, "POST", "/v1/members", {
    key: adminKey,
    body: { email, role: options.role, ...(options.name ? { name: options.name } : {}) },
  });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  const redeemed = await call(app, "POST", "/v1/invitations/accept", {
    body: { secret: added.body.invitation.secret, name: `${options.role}-${counter}`, scopes: options.scopes },
  });
  expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(201);
  return { userId: added.body.member.userId as string, key: redeemed.body.key as string, email };
}
