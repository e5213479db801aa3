/**
 * Splits text into overlapping chunks for embedding.
 *
 * Sizes are in characters (UTF-16 code units, never splitting a surrogate pair). Each window of
 * at most `size` characters ends, by preference, at a paragraph break, then a sentence end, then
 * any whitespace, searched in the last part of the window (so chunks are not cut needlessly
 * short); failing all of those it is cut hard at `size`. The next window starts `overlap`
 * characters before the previous end (moved forward to a word start when one is near), and
 * always makes progress. Chunks are trimmed and never empty. Deterministic.
 */

export interface ChunkOptions {
  /** Maximum chunk length in characters (default 1000). */
  size?: number;
  /** Characters shared between consecutive chunks (default 150); must be < size. */
  overlap?: number;
}

export const DEFAULT_CHUNK_SIZE = 1000;
export const DEFAULT_CHUNK_OVERLAP = 150;

/** Fraction of the window, from its end, searched for a good break. */
const BOUNDARY_SEARCH_FRACTION = 0.5;

export function chunkText(text: string, opts: ChunkOptions = {}): string[] {
  const size = opts.size ?? DEFAULT_CHUNK_SIZE;
  const overlap = opts.overlap ?? DEFAULT_CHUNK_OVERLAP;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer; got ${size}`);
  if (!Number.isInteger(overlap) || overlap < 0) {
    throw new RangeError(`chunk overlap must be a non-negative integer; got ${overlap}`);
  }
  if (overlap >= size) throw new RangeError(`chunk overlap (${overlap}) must be smaller than size (${size})`);

  const normalised = text.replace(/\r\n?/g, "\n");
  const body = normalised.trim();
  if (body.length === 0) return [];
  if (body.length <= size) return [body];

  const chunks: string[] = [];
  let start = 0;
  while (start < body.length) {
    // skip whitespace at the start of a window
    while (start < body.length && isSpace(body.charCodeAt(start))) start++;
    if (start >= body.length) break;

    let end: number;
    if (body.length - start <= size) {
      end = body.length;
    } else {
      end = findBreak(body, start, start + size);
    }
    const chunk = body.slice(start, end).trim();
    if (chunk.length > 0) chunks.push(chunk);
    if (end >= body.length) break;

    let next = end - overlap;
    if (overlap > 0) next = avoidSurrogateSplit(body, alignToWordStart(body, next, end));
    // guarantee progress
    if (next <= start) next = end;
    start = next;
  }
  return chunks;
}

/** End offset (exclusive) for a window [start, limit), preferring natural boundaries. */
function findBreak(text: string, start: number, limit: number): number {
  const windowLength = limit - start;
  const searchFrom = limit - Math.max(1, Math.floor(windowLength * BOUNDARY_SEARCH_FRACTION));
  const region = text.slice(searchFrom, limit);
  // If the character right after the window is whitespace, the whole window ends on a word.
  const nextIsSpace = isSpace(text.charCodeAt(limit));

  // 1. paragraph break (blank line)
  const paragraph = lastMatchEnd(region, /\n[ \t]*\n/g);
  if (paragraph !== undefined) return searchFrom + paragraph;
  // 2. sentence end: . ! ? … (optionally followed by closing quotes/brackets) then whitespace
  const sentence = lastMatchEnd(region + (nextIsSpace ? " " : ""), /[.!?…]["'”’)\]]*\s/g);
  if (sentence !== undefined) return Math.min(limit, searchFrom + sentence);
  // 3. single line break
  const line = region.lastIndexOf("\n");
  if (line !== -1) return searchFrom + line + 1;
  // 4. any whitespace
  if (nextIsSpace) return limit;
  for (let i = limit - 1; i >= searchFrom; i--) {
    if (isSpace(text.charCodeAt(i))) return i + 1;
  }
  // 5. hard cut (keeping a surrogate pair together unless the window holds only half of one)
  const cut = avoidSurrogateSplit(text, limit);
  return cut > start ? cut : limit;
}

function lastMatchEnd(region: string, pattern: RegExp): number | undefined {
  let last: number | undefined;
  for (const match of region.matchAll(pattern)) last = match.index + match[0].length;
  return last;
}

/** Moves `position` forward to the start of the next word if one begins before `limit`. */
function alignToWordStart(text: string, position: number, limit: number): number {
  if (position <= 0 || isSpace(text.charCodeAt(position - 1))) return position;
  for (let i = position; i < limit; i++) {
    if (isSpace(text.charCodeAt(i))) {
      let j = i;
      while (j < limit && isSpace(text.charCodeAt(j))) j++;
      return j < limit ? j : position;
    }
  }
  return position; // one long word: keep the exact character overlap
}

function avoidSurrogateSplit(text: string, position: number): number {
  const code = text.charCodeAt(position);
  // position points at a low surrogate: step back so the pair stays together
  if (position > 0 && code >= 0xdc00 && code <= 0xdfff) return position - 1;
  return position;
}

function isSpace(code: number): boolean {
  return (
    code === 32 ||
    code === 9 ||
    code === 10 ||
    code === 13 ||
    code === 12 ||
    code === 11 ||
    code === 0xa0 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x3000
  );
}
