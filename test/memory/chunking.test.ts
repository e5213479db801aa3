import { describe, expect, it } from "vitest";
import { chunkText } from "../../functions/memory/chunking";

const sentence = (i: number) => `Sentence number ${i} talks about topic ${i % 7} in some detail.`;
const prose = (n: number) => Array.from({ length: n }, (_, i) => sentence(i)).join(" ");

describe("chunkText", () => {
  it("returns [] for empty or blank text", () => {
    expect(chunkText("")).toEqual([]);
    expect(chunkText("   \n\t  \n ")).toEqual([]);
  });

  it("returns one trimmed chunk for text shorter than size", () => {
    expect(chunkText("  hello world \n")).toEqual(["hello world"]);
    const text = "x".repeat(1000);
    expect(chunkText(text)).toEqual([text]);
  });

  it("uses defaults of size 1000 and overlap 150", () => {
    const text = prose(100); // ~6000 chars
    const chunks = chunkText(text);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(1000);
  });

  it("never exceeds size, never returns empty chunks, and covers the whole text", () => {
    const text = prose(60);
    for (const [size, overlap] of [
      [50, 0],
      [120, 30],
      [300, 100],
      [500, 499],
    ] as const) {
      const chunks = chunkText(text, { size, overlap });
      for (const c of chunks) {
        expect(c.length).toBeGreaterThan(0);
        expect(c.length).toBeLessThanOrEqual(size);
        expect(c).toBe(c.trim());
        expect(text).toContain(c);
      }
      // every word of the text appears in some chunk, in order
      expect(chunks[0]!.startsWith("Sentence number 0")).toBe(true);
      expect(chunks.at(-1)!.endsWith("topic 3 in some detail.")).toBe(true);
      let cursor = 0;
      for (const c of chunks) {
        const at = text.indexOf(c, Math.max(0, cursor - size));
        expect(at).toBeGreaterThanOrEqual(0);
        expect(at).toBeLessThanOrEqual(cursor + 1); // no gap between chunks
        cursor = at + c.length;
      }
      expect(cursor).toBe(text.length);
    }
  });

  it("prefers sentence boundaries", () => {
    const chunks = chunkText(prose(40), { size: 300, overlap: 0 });
    for (const c of chunks) expect(c.endsWith(".")).toBe(true);
  });

  it("prefers paragraph boundaries over sentence boundaries", () => {
    const para = (p: number) => Array.from({ length: 3 }, (_, i) => sentence(p * 10 + i)).join(" ");
    const text = [para(0), para(1), para(2), para(3)].join("\n\n");
    const chunks = chunkText(text, { size: 250, overlap: 0 });
    expect(chunks).toEqual([para(0), para(1), para(2), para(3)]);
  });

  it("breaks at whitespace rather than inside words", () => {
    const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    const chunks = chunkText(words, { size: 100, overlap: 20 });
    const vocabulary = new Set(words.split(" "));
    for (const c of chunks) for (const w of c.split(" ")) expect(vocabulary.has(w)).toBe(true);
  });

  it("overlaps consecutive chunks by roughly the configured amount", () => {
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ");
    const chunks = chunkText(words, { size: 200, overlap: 50 });
    for (let i = 1; i < chunks.length; i++) {
      const prevWords = chunks[i - 1]!.split(" ");
      const firstWord = chunks[i]!.split(" ")[0]!;
      const shared = prevWords.length - prevWords.indexOf(firstWord);
      expect(prevWords).toContain(firstWord);
      const sharedChars = prevWords.slice(-shared).join(" ").length;
      expect(sharedChars).toBeGreaterThan(30);
      expect(sharedChars).toBeLessThanOrEqual(50);
    }
  });

  it("hard-cuts a single long word, keeping the exact overlap", () => {
    const text = "a".repeat(250);
    const chunks = chunkText(text, { size: 100, overlap: 10 });
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 70]);
    expect(chunks.join("").length).toBe(250 + 20);
  });

  it("does not split surrogate pairs", () => {
    const text = "😀".repeat(30); // 60 UTF-16 units
    const chunks = chunkText(text, { size: 7, overlap: 0 });
    for (const c of chunks) expect(c).toBe(Array.from(c).join(""));
    for (const c of chunks) expect(/^(?:😀)+$/u.test(c)).toBe(true);
    expect(chunks.join("")).toBe(text);
  });

  it("normalises CRLF", () => {
    expect(chunkText("a\r\nb")).toEqual(["a\nb"]);
  });

  it("is deterministic", () => {
    const text = prose(80);
    expect(chunkText(text, { size: 333, overlap: 77 })).toEqual(chunkText(text, { size: 333, overlap: 77 }));
  });

  it("rejects invalid options", () => {
    expect(() => chunkText("abc", { size: 100, overlap: 100 })).toThrow(RangeError);
    expect(() => chunkText("abc", { size: 100, overlap: 150 })).toThrow(RangeError);
    expect(() => chunkText("abc", { size: 0 })).toThrow(RangeError);
    expect(() => chunkText("abc", { size: 10.5, overlap: 1 })).toThrow(RangeError);
    expect(() => chunkText("abc", { overlap: -1 })).toThrow(RangeError);
    expect(() => chunkText("abc", { size: 100 })).toThrow(RangeError); // default overlap 150 >= 100
  });
});
