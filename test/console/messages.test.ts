/**
 * The console says what the API answered as a sentence. These are the API's actual refusals
 * (functions/approvals/decisions.ts and friends); if their wording changes, the console falls back
 * to the API's own message, and this test says which sentence was lost.
 */
import { describe, expect, it } from "vitest";
import { explain } from "../../console/src/messages";
import { CairnError } from "../../sdk/src/errors";

const refusal = (status: number, code: string, message: string, details?: unknown) =>
  new CairnError({ status, code, message, details, operation: "POST /v1/approvals/{id}/decisions" });

describe("the console's sentences for the API's refusals", () => {
  it("four-eyes, not an allowed approver, already decided, closed, past its deadline", () => {
    expect(
      explain(refusal(403, "forbidden", "The requester of the work cannot decide its approval (four-eyes rule)"))
        .sentence,
    ).toBe(
      "You asked for this work, so you cannot approve or reject it yourself: someone else has to decide it (the four-eyes rule).",
    );
    expect(
      explain(
        refusal(403, "forbidden", "The caller is not an allowed approver of this request", {
          approverRoles: ["OWNER", "APPROVER"],
          role: "MEMBER",
        }),
      ).sentence,
    ).toBe(
      "You are not one of the people allowed to decide this request: it is for owners, approvers, and your role here is member.",
    );
    expect(explain(refusal(409, "conflict", "The caller already decided this request (APPROVED)")).sentence).toBe(
      "You have already decided this request (you approved it). One decision per person.",
    );
    expect(explain(refusal(409, "conflict", "The approval request is already REJECTED")).sentence).toBe(
      "This request has already been decided: it is rejected. Your decision was not recorded.",
    );
    expect(
      explain(refusal(409, "conflict", "The approval request is past its deadline; its timeout action applies"))
        .sentence,
    ).toMatch(/past its deadline/);
  });

  it("scopes, keys, absence, the network, and problems by path", () => {
    expect(explain(refusal(403, "forbidden", "This API key lacks the 'work:write' scope")).sentence).toBe(
      "Your key does not allow this: it needs the “work:write” scope. Ask an admin for a key that has it.",
    );
    expect(explain(refusal(401, "unauthorized", "The API key has been revoked")).sentence).toBe(
      "Your key was not accepted: the API key has been revoked. Sign in again with a valid key.",
    );
    expect(explain(refusal(404, "not_found", "Dead letter x was not found")).sentence).toMatch(/another workspace/);
    expect(explain(refusal(0, "network_error", "fetch failed")).sentence).toMatch(/could not be reached/);
    const invalid = explain(
      refusal(422, "invalid", "Payload does not match the schema for REPORT", [
        { item: 0, type: "REPORT", schemaVersion: 1, errors: [{ path: "/pages", message: "must be integer" }] },
      ]),
    );
    expect(invalid.problems).toEqual([{ path: "/pages", message: "must be integer" }]);
    const malformed = explain(
      refusal(400, "validation_failed", "The request json is not valid", [{ path: "reason", message: "Required" }]),
    );
    expect(malformed.problems).toEqual([{ path: "reason", message: "Required" }]);
    expect(explain(new Error("Paste your API key first.")).sentence).toBe("Paste your API key first.");
  });
});
