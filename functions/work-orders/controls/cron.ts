/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), in UTC:
 * `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, lists `a,b`, month and weekday names
 * (JAN–DEC, SUN–SAT; 7 is Sunday too). As in classic cron, when both day fields are restricted a
 * day matches either. Written here (about a hundred lines) rather than taken from a package: the
 * next time after a given one is all Cairn needs, and every input is bounded (an expression is at
 * most 200 characters; `nextRun` looks at most eight years ahead, day by day).
 */
import { Invalid } from "../../shared/errors";

export interface Cron {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Whether the day-of-month and day-of-week fields were restricted (not `*`). */
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesFrom?: number;
}

const FIELDS: FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: "day of week", min: 0, max: 7, names: WEEKDAYS, namesFrom: 0 },
];

function value(text: string, spec: FieldSpec): number {
  const upper = text.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (spec.namesFrom ?? 0);
  if (!/^\d{1,2}$/.test(text)) throw new Invalid(`cron ${spec.name}: '${text}' is not a number or a name`);
  const n = Number(text);
  if (n < spec.min || n > spec.max) throw new Invalid(`cron ${spec.name}: ${n} is outside ${spec.min}–${spec.max}`);
  return n;
}

function field(text: string, spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText, extra] = part.split("/");
    if (range === undefined || range === "" || extra !== undefined)
      throw new Invalid(`cron ${spec.name}: '${part}' is malformed`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) < 1)
        throw new Invalid(`cron ${spec.name}: step '${stepText}' must be 1 or more`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = spec.min;
      to = spec.max;
    } else if (range.includes("-")) {
      const [a, b, more] = range.split("-");
      if (a === undefined || b === undefined || more !== undefined)
        throw new Invalid(`cron ${spec.name}: '${range}' is malformed`);
      from = value(a, spec);
      to = value(b, spec);
      if (from > to) throw new Invalid(`cron ${spec.name}: the range '${range}' runs backwards`);
    } else {
      from = value(range, spec);
      to = stepText === undefined ? from : spec.max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

/** Parses an expression; a malformed one is a 422 saying which field is wrong. */
export function parseCron(expression: string): Cron {
  const parts = expression.trim().split(/\s+/);
  if (expression.length > 200 || parts.length !== 5) {
    throw new Invalid("A cron expression has five fields: minute hour day-of-month month day-of-week");
  }
  const [minutes, hours, days, months, weekdays] = parts.map((part, index) =>
    field(part, FIELDS[index] as FieldSpec),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);
  return {
    minutes,
    hours,
    days,
    months,
    weekdays,
    daysRestricted: parts[2] !== "*",
    weekdaysRestricted: parts[4] !== "*",
  };
}

const DAY_MS = 86_400_000;
const HORIZON_DAYS = 8 * 366;

function dayMatches(cron: Cron, day: Date): boolean {
  if (!cron.months.has(day.getUTCMonth() + 1)) return false;
  const dom = cron.days.has(day.getUTCDate());
  const dow = cron.weekdays.has(day.getUTCDay());
  if (cron.daysRestricted && cron.weekdaysRestricted) return dom || dow;
  if (cron.daysRestricted) return dom;
  if (cron.weekdaysRestricted) return dow;
  return true;
}

/** The first time strictly after `after` (to the minute) that the expression matches, or null. */
export function nextRun(cron: Cron, after: Date): Date | null {
  const start = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  const sortedHours = [...cron.hours].sort((a, b) => a - b);
  const sortedMinutes = [...cron.minutes].sort((a, b) => a - b);
  let day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
  for (let n = 0; n <= HORIZON_DAYS; n++, day = new Date(day.getTime() + DAY_MS)) {
    if (!dayMatches(cron, day)) continue;
    for (const hour of sortedHours) {
      for (const minute of sortedMinutes) {
        const at = new Date(day.getTime() + hour * 3_600_000 + minute * 60_000);
        if (at >= start) return at;
      }
    }
  }
  return null;
}

/** The next run after `after`, or a 422 for an expression that never fires (such as 30 February). */
export function nextRunOrRefuse(expression: string, after: Date): Date {
  const next = nextRun(parseCron(expression), after);
  if (!next) throw new Invalid(`The cron expression '${expression}' never fires`);
  return next;
}
