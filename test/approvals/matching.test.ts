import { describe, expect, it } from "vitest";
import type { PolicyCondition } from "../../db/schema";
import { conditionHolds, conditionProblem, fieldValue, policyMatches } from "../../functions/approvals/matching";
import { summarizePayload } from "../../functions/approvals/summary";

const item = {
  type: "INVOICE",
  payload: {
    amount: 1500,
    currency: "EUR",
    text: "1200",
    tags: ["urgent", "vip"],
    customer: { tier: "gold", id: 7 },
    note: "pay by Friday",
  },
};
const holds = (field: string, operator: PolicyCondition["operator"], value: unknown) =>
  conditionHolds({ field, operator, value }, item);

describe("policy condition matching", () => {
  it("reads `type` and dotted payload paths", () => {
    expect(fieldValue(item, "type")).toBe("INVOICE");
    expect(fieldValue(item, "payload.customer.tier")).toBe("gold");
    expect(fieldValue(item, "payload.missing.deeper")).toBeUndefined();
    expect(fieldValue(item, "payload.tags.length")).toBeUndefined(); // no walking into arrays or prototypes
    expect(fieldValue(item, "payload.constructor")).toBeUndefined();
  });

  it("equals / not_equals compare JSON values; a missing field only satisfies not_equals", () => {
    expect(holds("type", "equals", "INVOICE")).toBe(true);
    expect(holds("payload.amount", "equals", 1500)).toBe(true);
    expect(holds("payload.amount", "equals", "1500")).toBe(false);
    expect(holds("payload.customer", "equals", { id: 7, tier: "gold" })).toBe(true);
    expect(holds("payload.missing", "equals", null)).toBe(false);
    expect(holds("payload.currency", "not_equals", "USD")).toBe(true);
    expect(holds("payload.currency", "not_equals", "EUR")).toBe(false);
    expect(holds("payload.missing", "not_equals", "EUR")).toBe(true);
  });

  it("greater_than / less_than compare numbers, numeric strings included", () => {
    expect(holds("payload.amount", "greater_than", 1000)).toBe(true);
    expect(holds("payload.amount", "greater_than", 1500)).toBe(false);
    expect(holds("payload.amount", "less_than", 2000)).toBe(true);
    expect(holds("payload.amount", "less_than", 1500)).toBe(false);
    expect(holds("payload.text", "greater_than", 1000)).toBe(true);
    expect(holds("payload.currency", "greater_than", 0)).toBe(false);
    expect(holds("payload.missing", "less_than", 0)).toBe(false);
  });

  it("contains is a substring test on strings and membership on arrays", () => {
    expect(holds("payload.note", "contains", "Friday")).toBe(true);
    expect(holds("payload.note", "contains", "Monday")).toBe(false);
    expect(holds("payload.tags", "contains", "vip")).toBe(true);
    expect(holds("payload.tags", "contains", "vi")).toBe(false);
    expect(holds("payload.amount", "contains", "15")).toBe(false);
  });

  it("regex tests strings and numbers", () => {
    expect(holds("payload.note", "regex", "^pay\\b")).toBe(true);
    expect(holds("payload.currency", "regex", "^(USD|GBP)$")).toBe(false);
    expect(holds("payload.amount", "regex", "^1\\d{3}$")).toBe(true);
    expect(holds("payload.customer", "regex", ".*")).toBe(false);
  });

  it("a policy needs its item type and every condition", () => {
    const conditions: PolicyCondition[] = [
      { field: "payload.amount", operator: "greater_than", value: 1000 },
      { field: "payload.currency", operator: "equals", value: "EUR" },
    ];
    expect(policyMatches({ itemType: "INVOICE", conditions }, item)).toBe(true);
    expect(policyMatches({ itemType: "REFUND", conditions }, item)).toBe(false);
    expect(
      policyMatches({ itemType: null, conditions }, { ...item, payload: { ...item.payload, currency: "USD" } }),
    ).toBe(false);
    expect(policyMatches({ itemType: null, conditions: [] }, item)).toBe(true);
  });

  it("validates conditions when a policy is saved: regexes compile, comparisons have numbers", () => {
    expect(conditionProblem({ field: "payload.a", operator: "regex", value: "([a-z" })).toMatch(/does not compile/);
    expect(conditionProblem({ field: "payload.a", operator: "regex", value: 5 })).toMatch(/pattern string/);
    expect(conditionProblem({ field: "payload.a", operator: "regex", value: "x".repeat(501) })).toMatch(/longer/);
    expect(conditionProblem({ field: "payload.a", operator: "regex", value: "^ok$" })).toBeNull();
    expect(conditionProblem({ field: "payload.a", operator: "greater_than", value: "1000" })).toMatch(/needs a number/);
    expect(conditionProblem({ field: "payload.a", operator: "less_than", value: 3 })).toBeNull();
    expect(conditionProblem({ field: "payload.a", operator: "equals", value: undefined })).toMatch(/needs a value/);
  });

  it("summarises payloads for inboxes without copying them whole", () => {
    const summary = summarizePayload({ a: 1, s: "x".repeat(300), list: [1, 2, 3], obj: { deep: true }, nothing: null });
    expect(summary).toEqual({ a: 1, s: `${"x".repeat(200)}…`, list: "[3 items]", obj: "{…}", nothing: null });
    const wide = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(summarizePayload(wide))).toHaveLength(21);
  });
});
