#!/usr/bin/env node
// The `cairn` command. A checkout of the repository has the TypeScript sources and tsx (a
// root dev dependency): it runs them directly, so `npx cairn` needs no build and is never
// stale. The published package ships only the compiled dist/.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/bin.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import(new URL("../dist/cli/bin.js", import.meta.url).href);
}
