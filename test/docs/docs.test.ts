/**
 * `/docs` in a real browser (Debian's Chromium driven by playwright-core, as test/console does)
 * against `npm start`: the API reference (Scalar, served by the app from its own package) shows
 * an operation and a schema, and the page asks nothing of any origin but the server's.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docsScriptSource } from "../../functions/shared/docs-page";
import { type Cairn, startCairn } from "../sdk/support/server";
import { migratedPgliteFolder } from "../support/databases";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"];
const SCREENSHOTS = join(import.meta.dirname, "..", "console", "screenshots");
const WAIT = { timeout: 30_000, interval: 200 };
const visible = (locator: Locator) => locator.waitFor({ state: "visible", timeout: WAIT.timeout });

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it`);
if (!haveChromium) console.warn(`test/docs: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);

let cairn: Cairn;
let dir: string;
beforeAll(async () => {
  dir = await migratedPgliteFolder(mkdtempSync(join(tmpdir(), "cairn-docs-")));
  cairn = await startCairn({ DATABASE_URL: `pglite:${dir}` });
});
afterAll(async () => {
  await cairn?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("/docs over HTTP", () => {
  it("serves a page that loads Scalar from the server itself, under a same-origin Content-Security-Policy", async () => {
    const page = await fetch(`${cairn.url}/docs`);
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="/docs/api-reference.js"');
    expect(html).not.toMatch(/https?:\/\//);

    const plain = await fetch(`${cairn.url}/docs/api-reference.js`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("content-type")).toContain("javascript");
    const shipped = readFileSync(docsScriptSource());
    expect(Buffer.from(await plain.arrayBuffer()).equals(shipped)).toBe(true);
    // Compressed for browsers (and under a Lambda response's 6 MB).
    const gzipped = await fetch(`${cairn.url}/docs/api-reference.js`, { headers: { "accept-encoding": "gzip" } });
    expect(gzipped.headers.get("content-encoding")).toBe("gzip");
  });
});

describe.skipIf(!haveChromium)("/docs in a browser, against npm start", () => {
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const refused: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.on("request", (request) => requests.push(request.url()));
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
    });
    page.on("pageerror", (error) => refused.push(`page error: ${error.message}`));
    await page.goto(`${cairn.url}/docs`);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("shows an operation with its parameters and a schema with its fields", async () => {
    // An operation (the first group is open): its summary and its Idempotency-Key header parameter.
    await visible(page.getByText("Create a work order with its items", { exact: false }).first());
    // Scalar breaks long names with <wbr>, so the parameter is found by the anchor it renders for it.
    await expect
      .poll(() => page.locator('[id$="/POST/v1/work-orders.headers.Idempotency-Key"]').count(), WAIT)
      .toBeGreaterThan(0);
    // A schema: open the models, then one of them, and see one of its fields.
    await page
      .getByRole("button", { name: /Models/ })
      .first()
      .click();
    const schema = page.getByText("ClaimWorkItemsInput", { exact: true }).first();
    await visible(schema);
    await schema.click();
    await visible(page.getByText("leaseSeconds", { exact: true }).first());
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "docs.png") });
  });

  it("asks nothing of any origin but the server's (no CDN, fonts, telemetry), and nothing was refused", async () => {
    await page.waitForLoadState("networkidle");
    const elsewhere = requests.filter(
      (url) => !url.startsWith(`${cairn.url}/`) && !url.startsWith("data:") && !url.startsWith("blob:"),
    );
    expect(elsewhere).toEqual([]);
    expect(requests).toEqual(
      expect.arrayContaining([`${cairn.url}/docs/api-reference.js`, `${cairn.url}/openapi.json`]),
    );
    expect(refused).toEqual([]);
  });
});
