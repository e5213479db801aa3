/**
 * Patterns a workspace writes (payload-schema `pattern`s, approval-policy `regex` conditions) run
 * on a linear-time engine (functions/shared/user-regex.ts); test/regex-dos.test.ts is the attack.
 */
import { describe, expect, it } from "vitest";
import { conditionHolds, conditionProblem } from "../functions/approvals/matching";
import { compileUserPattern, MAX_PATTERN_LENGTH, userPatternProblem } from "../functions/shared/user-regex";

/** 27 `a`s and a `!`: exponential backtracking for `^(a+)+$` and `^(a|a)+$` (seconds, doubling per extra `a`). */
const PATHOLOGICAL = `${"a".repeat(27)}!`;

describe("user patterns", () => {
  it("match as JavaScript's RegExp did for the patterns people write", () => {
    const cases: Array<[string, string[]]> = [
      ["^INV-[0-9]{4}$", ["INV-2024", "INV-202", "inv-2024", "INV-20245"]],
      ["^pay\\b", ["pay by Friday", "payday", "repay"]],
      ["^(USD|GBP|EUR)$", ["EUR", "EURO", "usd"]],
      ["^1\\d{3}$", ["1500", "15000", "2500"]],
      ["^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", ["ops@example.com", "no at sign", "a@b.c"]],
      ["^[A-Z]{2}\\d{2}[A-Z0-9]{11,30}$", ["DE89370400440532013000", "DE89", "de89370400440532013000"]],
      ["^\\p{Lu}\\p{Ll}+$", ["Émile", "émile", "Zoë"]],
      ["^\\u00e9t\\u00e9$", ["été", "ete"]],
      ["^[\\u0041-\\u005A]+$", ["ABC", "abc"]],
      ["^\\S+$", ["no-spaces", "has space"]],
      ["^(?<year>\\d{4})-(?<month>\\d{2})$", ["2024-05", "24-05"]],
      ["colou?r", ["color", "colour", "colr"]],
      ["^$", ["", " "]],
      ["\\/v1\\/", ["/v1/x", "v1"]],
      ["^(a+)+$", ["aaaa", "aaab"]],
      [".*", ["anything", ""]],
    ];
    for (const [pattern, subjects] of cases) {
      const native = new RegExp(pattern, "u");
      const linear = compileUserPattern(pattern);
      for (const subject of subjects) {
        expect({ pattern, subject, matches: linear.test(subject) }).toEqual({
          pattern,
          subject,
          matches: native.test(subject),
        });
      }
    }
  });

  it("refuses, with the reason, what a linear-time engine cannot run and patterns that are too long", () => {
    expect(userPatternProblem("(a)\\1")).toMatch(/backreference/);
    expect(userPatternProblem("(?<x>a)\\k<x>")).toMatch(/backreference/);
    expect(userPatternProblem("a(?=b)")).toMatch(/lookahead|lookaround/);
    expect(userPatternProblem("a(?!b)")).toMatch(/lookahead|lookaround/);
    expect(userPatternProblem("(?<=a)b")).toMatch(/lookbehind|lookaround/);
    expect(userPatternProblem("(?<!a)b")).toMatch(/lookbehind|lookaround/);
    expect(userPatternProblem("([a-z")).toMatch(/does not compile|invalid/i);
    expect(userPatternProblem("a".repeat(MAX_PATTERN_LENGTH + 1))).toMatch(
      new RegExp(`longer than ${MAX_PATTERN_LENGTH}`),
    );
    expect(userPatternProblem("a".repeat(MAX_PATTERN_LENGTH))).toBeNull();
    // Counted repetitions expand: a small source can be a very large program.
    expect(userPatternProblem(".{1000}.{1000}.{1000}.{1000}.{1000}")).toMatch(/too large/);
    expect(() => compileUserPattern("(a)\\1")).toThrow(/backreference/);
  });

  it("policy conditions use them: `regex` refuses lookaround at save time and matches in linear time", () => {
    expect(conditionProblem({ field: "payload.a", operator: "regex", value: "a(?=b)" })).toMatch(
      /lookahead|lookaround/,
    );
    expect(conditionProblem({ field: "payload.a", operator: "regex", value: "^(a|a)+$" })).toBeNull();
    const item = { type: "T", payload: { a: PATHOLOGICAL, b: "aaaa" } };
    expect(conditionHolds({ field: "payload.a", operator: "regex", value: "^(a|a)+$" }, item)).toBe(false);
    expect(conditionHolds({ field: "payload.b", operator: "regex", value: "^(a|a)+$" }, item)).toBe(true);
  });
});
