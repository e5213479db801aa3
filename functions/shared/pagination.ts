import { z } from "@hono/zod-openapi";
import { type AnyColumn, and, eq, lt, or, type SQL } from "drizzle-orm";
import { BadRequest } from "./errors";
import { parseInput } from "./validation";

/** Query parameters of every listing: newest first, keyset-paginated by (created_at, id). */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size, 1..200" }),
  cursor: z.string().max(200).optional().openapi({ description: "`nextCursor` of the previous page" }),
});
export type PageQuery = z.infer<typeof PageQuery>;

interface CursorPosition {
  createdAt: Date;
  id: string;
}

const CursorShape = z.object({ t: z.string().datetime(), id: z.string().uuid() });

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ t: position.createdAt.toISOString(), id: position.id })).toString("base64url");
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const parsed = parseInput(CursorShape, JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    return { createdAt: new Date(parsed.t), id: parsed.id };
  } catch {
    throw new BadRequest("The cursor is not valid; pass the nextCursor of a previous page");
  }
}

/** The WHERE condition that continues a newest-first listing after `cursor`. */
export function after(createdAt: AnyColumn, id: AnyColumn, cursor: string | undefined): SQL | undefined {
  if (!cursor) return undefined;
  const position = decodeCursor(cursor);
  return or(lt(createdAt, position.createdAt), and(eq(createdAt, position.createdAt), lt(id, position.id)));
}

/** Given `limit + 1` rows, the page and the cursor of the next one. */
export function page<T extends CursorPosition>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  return pageBy(rows, limit, (row) => row);
}

/** `page` for rows whose key is not called `id` (members are keyed by their user). */
export function pageBy<T>(
  rows: T[],
  limit: number,
  position: (row: T) => CursorPosition,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(position(last)) : null };
}

export const pageSchema = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
