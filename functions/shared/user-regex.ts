/**
 * Regular expressions a workspace writes — payload-schema `pattern`s and `patternProperties`
 * (ajv's `code.regExp`, functions/platform/payload-schemas.ts) and approval-policy `regex`
 * conditions (functions/approvals/matching.ts) — compiled here and nowhere else.
 *
 * They run on RE2JS, a pure-JavaScript port of RE2: matching takes time linear in the subject,
 * so no pattern can backtrack exponentially (`^(a+)+$` against 27 `a`s and a `!` took seconds on
 * JavaScript's engine, blocking the event loop, and doubled with each `a`). What RE2 cannot run
 * in linear time — backreferences, lookahead, lookbehind — is refused with the reason when the
 * pattern is saved. A pattern is written in JavaScript syntax (ECMAScript with the `u` flag, as
 * JSON Schema and the policies always took it) and must also fit RE2; differences that remain:
 * `\s` is ASCII whitespace and `.` excludes only `\n`; `\p{…}` takes general categories and
 * scripts by short name (`\p{L}`, `\p{Lu}`, `\p{Greek}`), not `\p{Letter}` or `\p{Script=…}`.
 */
import { RE2JS } from "re2js";

/** Longest pattern source a workspace may save. */
export const MAX_PATTERN_LENGTH = 500;
/**
 * Largest compiled program: counted repetitions expand (`.{1000}` is a thousand instructions),
 * and the worst-case cost of a match grows with the program's size times the subject's length.
 * `^[a-z]{1,1000}$` (about 2,000) fits.
 */
export const MAX_PATTERN_PROGRAM = 2500;

/** A compiled user pattern: `test` is RegExp's (unanchored), in linear time. */
export interface UserPattern {
  readonly source: string;
  test(subject: string): boolean;
  /** A distinct string per pattern (ajv keys compiled patterns by it). */
  toString(): string;
}

export class UserPatternError extends Error {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`The pattern ${quote(source)} ${problem}`);
    this.name = "UserPatternError";
  }
}

const quote = (source: string) => JSON.stringify(source.length > 60 ? `${source.slice(0, 60)}…` : source);

/** What the pattern uses that a linear-time engine cannot run, if anything (outside character classes). */
function unsupportedConstruct(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "\\") {
      const next = source[i + 1] ?? "";
      if (!inClass && (/[1-9]/.test(next) || next === "k")) return "backreferences (\\1, \\k<name>)";
      i++;
    } else if (inClass) {
      if (ch === "]") inClass = false;
    } else if (ch === "[") {
      inClass = true;
    } else if (ch === "(" && source[i + 1] === "?") {
      const rest = source.slice(i + 2, i + 4);
      if (rest.startsWith("=") || rest.startsWith("!")) return "lookahead ((?=…), (?!…))";
      if (rest === "<=" || rest === "<!") return "lookbehind ((?<=…), (?<!…))";
    }
  }
  return undefined;
}

/** Compiles a pattern a workspace wrote, or throws `UserPatternError` saying why it cannot be used. */
export function compileUserPattern(source: string): UserPattern {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new UserPatternError(source, `is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  try {
    new RegExp(source, "u"); // JavaScript's syntax is the contract; this only parses, it never matches
  } catch (error) {
    throw new UserPatternError(source, `does not compile: ${(error as Error).message}`);
  }
  const unsupported = unsupportedConstruct(source);
  if (unsupported) {
    throw new UserPatternError(
      source,
      `uses ${unsupported}, which the linear-time regex engine does not support (it prevents catastrophic backtracking)`,
    );
  }
  let compiled: RE2JS;
  try {
    // translateRegExp maps JavaScript-only spellings (\u00e9, \u{1F600}, (?<name>…), [^]) to RE2's.
    compiled = RE2JS.compile(RE2JS.translateRegExp(source));
  } catch (error) {
    throw new UserPatternError(
      source,
      `is not supported by the linear-time regex engine (RE2 syntax): ${(error as Error).message}`,
    );
  }
  if (compiled.programSize() > MAX_PATTERN_PROGRAM) {
    throw new UserPatternError(
      source,
      `is too large once its repetitions are expanded (over ${MAX_PATTERN_PROGRAM} instructions)`,
    );
  }
  const text = `/${source}/u`;
  return { source, test: (subject) => compiled.test(subject), toString: () => text };
}

/** Why the pattern cannot be used (a phrase that follows "The pattern …"), or null. */
export function userPatternProblem(source: string): string | null {
  try {
    compileUserPattern(source);
    return null;
  } catch (error) {
    if (error instanceof UserPatternError) return error.problem;
    throw error;
  }
}
