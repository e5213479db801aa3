/**
 * A client generated from the committed OpenAPI document the way a user generates one —
 * the openapi-typescript CLI at its default options — used through openapi-fetch, type-checks
 * the README's calls (marked `<!-- api-example: generated-client -->`) with tsc in strict mode;
 * and the types say the truth about nulls and optional request fields (a wrong call fails).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(".");
let scratch: string;

function readmeExample(): string {
  const readme = readFileSync("README.md", "utf8");
  const match = /<!-- api-example: generated-client -->\n```ts\n([\s\S]*?)\n```\n/.exec(readme);
  if (!match?.[1]) throw new Error("README.md has no example marked api-example: generated-client");
  return `${match[1]}\n`;
}

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2023", "DOM"],
    types: ["node"],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  },
};

/** tsc over `files` in the scratch folder; resolves to its diagnostics (empty when it compiles). */
async function typecheck(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(scratch, "case-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "cairn.d.ts"), readFileSync(join(scratch, "cairn.d.ts")));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ ...TSCONFIG, include: Object.keys(files).concat("cairn.d.ts") }),
  );
  try {
    await run(join(root, "node_modules", ".bin", "tsc"), ["-p", join(dir, "tsconfig.json")]);
    return "";
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

beforeAll(async () => {
  mkdirSync(join(root, ".scratch"), { recursive: true });
  // Inside the repository, so `openapi-fetch` resolves from its node_modules as in a user's project.
  scratch = mkdtempSync(join(root, ".scratch", "generated-client-"));
  // The CLI as the README says to run it, with no options but the output file.
  await run(join(root, "node_modules", ".bin", "openapi-typescript"), [
    "functions/platform/openapi.json",
    "-o",
    join(scratch, "cairn.d.ts"),
  ]);
}, 120_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("a client generated with openapi-typescript and openapi-fetch at their default options", () => {
  it("compiles the README's calls", async () => {
    expect(await typecheck({ "readme.ts": `${readmeExample()}export {};\n` })).toBe("");
  }, 120_000);

  it("types nullable fields with null and leaves server-defaulted request fields optional; wrong calls fail", async () => {
    const truths = `import createClient from "openapi-fetch";
import type { components, paths } from "./cairn";
type Schemas = components["schemas"];
const cairn = createClient<paths>({ baseUrl: "http://localhost:3000" });
// Nullable in responses: assigning them to a non-null string must not compile, so these are exact.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const lease: Exactly<Schemas["WorkItem"]["leaseExpiresAt"], string | null> = true;
const expires: Exactly<Schemas["ApiKey"]["expiresAt"], string | null> = true;
const accessed: Exactly<Schemas["Memory"]["lastAccessedAt"], string | null> = true;
const decided: Exactly<Schemas["ApprovalRequest"]["decidedAt"], string | null> = true;
const retry: Exactly<Schemas["WorkflowTemplate"]["retry"], Schemas["RetryPolicy"] | null> = true;
const pinned: Exactly<Schemas["Memory"]["pinnedTier"], "hot" | "warm" | "cold" | null> = true;
// The error body's code is the closed vocabulary.
const code: Schemas["Error"]["error"]["code"] = "database_unavailable";
// Fields the server defaults may be left out.
await cairn.POST("/v1/work-items/claim", { body: { workerId: "w" } });
await cairn.POST("/v1/work-orders", { body: { title: "t" } });
export { lease, expires, accessed, decided, retry, pinned, code };
`;
    expect(await typecheck({ "truths.ts": truths })).toBe("");

    const wrong = `import createClient from "openapi-fetch";
import type { paths } from "./cairn";
const cairn = createClient<paths>({ baseUrl: "http://localhost:3000" });
await cairn.POST("/v1/work-orders", { params: { header: { "idempotency-key": "k" } }, body: { title: "t" } });
await cairn.POST("/v1/work-items/claim", { body: { limit: 5 } });
const { data } = await cairn.GET("/v1/work-orders/{id}", { params: { path: { id: "x" } } });
const completed: string = data!.completedAt;
export { completed };
`;
    const diagnostics = await typecheck({ "wrong.ts": wrong });
    expect(diagnostics).toContain("wrong.ts(4,"); // the lower-case header name
    expect(diagnostics).toContain("wrong.ts(5,"); // workerId is required
    expect(diagnostics).toContain("wrong.ts(7,"); // completedAt can be null
  }, 120_000);
});
