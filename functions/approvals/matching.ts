import type { PolicyCondition } from "../../db/schema";
import { logger } from "../shared/logger";
import { compileUserPattern, MAX_PATTERN_LENGTH, type UserPattern, userPatternProblem } from "../shared/user-regex";

/**
 * Longest regex source a policy may hold; patterns are user input and run on every new item,
 * on the linear-time engine of functions/shared/user-regex.ts.
 */
export const MAX_REGEX_LENGTH = MAX_PATTERN_LENGTH;
/** Longest subject a regex is tested against (a long payload string is truncated, not scanned whole). */
const MAX_REGEX_SUBJECT = 10_000;

export interface MatchableItem {
  type: string;
  payload: Record<string, unknown>;
}

export interface MatchablePolicy {
  itemType: string | null;
  conditions: PolicyCondition[];
}

/** `type`, or a dotted path into the payload: `payload.amount`, `payload.customer.tier`. */
export function fieldValue(item: MatchableItem, field: string): unknown {
  if (field === "type") return item.type;
  const [root, ...path] = field.split(".");
  if (root !== "payload") return undefined;
  let current: unknown = item.payload;
  for (const key of path) {
    if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Why a condition is not valid, or null; policies are checked when saved, never at match time. */
export function conditionProblem(condition: PolicyCondition): string | null {
  switch (condition.operator) {
    case "greater_than":
    case "less_than":
      return typeof condition.value === "number" && Number.isFinite(condition.value)
        ? null
        : `'${condition.operator}' on ${condition.field} needs a number`;
    case "regex": {
      if (typeof condition.value !== "string") return `'regex' on ${condition.field} needs a pattern string`;
      const problem = userPatternProblem(condition.value);
      return problem === null ? null : `The pattern on ${condition.field} ${problem}`;
    }
    case "contains":
    case "equals":
    case "not_equals":
      return condition.value === undefined ? `'${condition.operator}' on ${condition.field} needs a value` : null;
    default:
      return `Unknown operator '${String((condition as { operator: unknown }).operator)}'`;
  }
}

const compiled = new Map<string, UserPattern | null>();
function compile(pattern: string): UserPattern | null {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    try {
      regex = compileUserPattern(pattern);
    } catch (error) {
      // Saved before validation existed (or before the linear-time engine: lookaround,
      // backreferences), or edited in SQL: conditionHolds fails closed on it.
      regex = null;
      logger.warn("approval policy regex does not compile", { pattern, error });
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((value, i) => deepEqual(value, other[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length && keys.every((key) => key in right && deepEqual(left[key], right[key]))
  );
}

/** A number, or a string that is one ("1500" from a form): comparisons accept both. */
function asNumber(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/**
 * Whether one condition holds. A missing field satisfies only `not_equals`; comparisons
 * need numbers (numeric strings count); `contains` is a substring test on strings and a
 * membership test on arrays; `regex` tests strings and numbers, and a stored pattern that no
 * longer compiles holds for every string or number (fails closed).
 */
export function conditionHolds(condition: PolicyCondition, item: MatchableItem): boolean {
  const actual = fieldValue(item, condition.field);
  switch (condition.operator) {
    case "equals":
      return actual !== undefined && deepEqual(actual, condition.value);
    case "not_equals":
      return !deepEqual(actual, condition.value);
    case "greater_than":
    case "less_than": {
      const left = asNumber(actual);
      const right = asNumber(condition.value);
      if (left === null || right === null) return false;
      return condition.operator === "greater_than" ? left > right : left < right;
    }
    case "contains":
      if (typeof actual === "string") return typeof condition.value === "string" && actual.includes(condition.value);
      if (Array.isArray(actual)) return actual.some((element) => deepEqual(element, condition.value));
      return false;
    case "regex": {
      if (typeof condition.value !== "string") return false;
      if (typeof actual !== "string" && typeof actual !== "number") return false;
      const regex = compile(condition.value);
      // A pattern that cannot run holds: its policy asks for approval rather than letting items through.
      return regex === null || regex.test(String(actual).slice(0, MAX_REGEX_SUBJECT));
    }
    default:
      return false;
  }
}

/** A policy applies when its item type (if any) is the item's and every condition holds. */
export function policyMatches(policy: MatchablePolicy, item: MatchableItem): boolean {
  if (policy.itemType !== null && policy.itemType !== item.type) return false;
  return policy.conditions.every((condition) => conditionHolds(condition, item));
}
