/**
 * The console end to end, in a real browser: Debian's Chromium driven by playwright-core (which
 * downloads nothing), against a real `npm start` on a PGlite folder, with people and keys made by
 * the one helper (test/support/people.ts). Screenshots go to test/console/screenshots/ (ignored by
 * git). CI installs chromium when /usr/bin/chromium is missing (.ci/run); elsewhere this file is
 * skipped, saying so, when it is absent.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cairn, KEY, startCairn } from "../sdk/support/server";
import { migratedPgliteFolder } from "../support/databases";
import type { ResponseBody } from "../support/http";
import { type Api, createPerson, overHttp, type Person } from "../support/people";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];
const SCREENSHOTS = join(import.meta.dirname, "screenshots");

// playwright-core has no assertions of its own: these poll the page until the expectation holds.
const WAIT = { timeout: 15_000, interval: 100 };
// biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (what a person reads), not the DOM's
const textOf = (locator: Locator) => expect.poll(() => locator.innerText({ timeout: 1000 }).catch(() => ""), WAIT);
const countOf = (locator: Locator) => expect.poll(() => locator.count(), WAIT);
const visible = (locator: Locator) => locator.waitFor({ state: "visible", timeout: WAIT.timeout });
/** Expressions evaluated in the page (strings: this file is type-checked without the DOM's types). */
const IN_PAGE = {
  focusedId: "document.activeElement && document.activeElement.id",
  pageWidth: "document.documentElement.scrollWidth",
  everythingStored: `JSON.stringify({
    local: Object.entries(localStorage),
    session: Object.entries(sessionStorage),
    cookie: document.cookie,
    html: document.documentElement.outerHTML,
  })`,
};

/** A section of the console, by its link in the main navigation. */
const openSection = (page: Page, name: string | RegExp) =>
  page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name }).click();
const disabled = (locator: Locator) => expect.poll(() => locator.isDisabled({ timeout: 1000 }), WAIT);

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);
if (!haveChromium) console.warn(`test/console: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.skipIf(!haveChromium)("the console in a browser, against npm start", () => {
  let dir: string;
  let cairn: Cairn;
  let api: Api;
  let approver: Person;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Every URL any page requested or navigated to. */
  const urls: string[] = [];
  let ownerPage: Page;
  let secondKey = "";

  const expectOk = (response: { status: number; body: ResponseBody }, status = 200) => {
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    return response.body;
  };

  async function newPage(width = 1280, height = 900): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    contexts.push(context);
    const page = await context.newPage();
    page.on("request", (request) => urls.push(request.url()));
    page.on("framenavigated", (frame) => urls.push(frame.url()));
    page.on("pageerror", (error) => {
      throw error;
    });
    return page;
  }

  /** Signs in with the keyboard only: Tab to the key field, type, Enter. */
  async function signIn(page: Page, key: string) {
    await page.goto(`${cairn.url}/console/`);
    await visible(page.getByRole("heading", { name: "Sign in to the Cairn console" }));
    await page.keyboard.press("Tab");
    await expect.poll(() => page.evaluate<string | undefined>(IN_PAGE.focusedId), WAIT).toBe("api-key");
    await page.keyboard.type(key);
    await page.keyboard.press("Enter");
    await visible(page.getByTestId("whoami"));
  }

  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-console-"));
    await migratedPgliteFolder(dir);
    // debug: the most the server ever logs, all of it searched for keys at the end.
    cairn = await startCairn({ DATABASE_URL: `pglite:${dir}`, LOG_LEVEL: "debug" });
    api = overHttp(cairn.url);
    approver = await createPerson(api, KEY, {
      email: "ada@example.test",
      name: "Ada Approver",
      role: "APPROVER",
      scopes: ["approvals:read", "approvals:decide", "work:read"],
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await cairn?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("an approver finds a gated order in the inbox, approves it with a reason, and the item becomes claimable", async () => {
    const order = expectOk(
      await api("POST", "/v1/work-orders", KEY, {
        title: "Pay ACME invoice 42",
        items: [
          {
            type: "PAYMENT",
            payload: { amount: 1200, currency: "EUR", supplier: "ACME", lines: [{ sku: "A-1", qty: 2 }] },
            approval: { gate: "BEFORE", timeoutSeconds: 86_400 },
          },
        ],
      }),
      201,
    );
    const claimBefore = await api("POST", "/v1/work-items/claim", KEY, { workerId: "e2e", types: ["PAYMENT"] });
    expect(expectOk(claimBefore).items).toEqual([]);

    const page = await newPage();
    await signIn(page, approver.key);
    await textOf(page.getByTestId("whoami")).toContain("Ada Approver");
    await textOf(page.getByTestId("whoami")).toContain("approver in");
    await openSection(page, "Account");
    const account = page.getByRole("main");
    await textOf(account).toContain(approver.email);
    await textOf(account).toContain("approvals:read, approvals:decide, work:read");
    await textOf(account).toContain(`cairn_${approver.keyPrefix}_…`);

    await openSection(page, /^Approvals/);
    const entry = page.getByRole("link", { name: "Pay ACME invoice 42 — PAYMENT" });
    await visible(entry);
    await textOf(page.getByRole("table", { name: "Approval requests" })).toContain("0 of 1 approval");
    await screenshot(page, "inbox");

    await entry.click();
    await visible(page.getByRole("heading", { name: "PAYMENT in “Pay ACME invoice 42”" }));
    await textOf(page.getByRole("main")).toContain("owners, admins, approvers");
    await textOf(page.getByRole("main")).toContain("then it is rejected automatically");
    await textOf(page.getByRole("figure", { name: "The item's payload" })).toContain('"supplier": "ACME"');
    await page.getByLabel(/^Reason/).fill("Within the ACME budget");
    await page.getByRole("button", { name: "Approve" }).click();
    await textOf(page.getByRole("status").filter({ hasText: "You approved it" })).toContain(
      "the item is queued to run",
    );
    const log = page.getByRole("table", { name: "Decisions" });
    await textOf(log).toContain("Within the ACME budget");
    await textOf(log).toContain("Ada Approver <ada@example.test> (you)");

    const claimed = expectOk(await api("POST", "/v1/work-items/claim", KEY, { workerId: "e2e", types: ["PAYMENT"] }));
    expect(claimed.items.map((item: ResponseBody) => item.id)).toEqual([order.items[0].id]);
  });

  it("tells the requester in a plain sentence why they cannot approve their own request", async () => {
    const order = expectOk(
      await api("POST", "/v1/work-orders", KEY, {
        title: "Refund customer 7",
        items: [{ type: "REFUND", payload: { amount: 30 }, approval: { gate: "BEFORE" } }],
      }),
      201,
    );
    ownerPage = await newPage();
    await signIn(ownerPage, KEY);
    await ownerPage.getByRole("link", { name: "All pending" }).click();
    await ownerPage.getByRole("link", { name: "Refund customer 7 — REFUND" }).click();
    await ownerPage.getByRole("button", { name: "Approve" }).click();
    const alert = ownerPage.getByRole("alert");
    await textOf(alert).toBe(
      "You asked for this work, so you cannot approve or reject it yourself: someone else has to decide it (the four-eyes rule).",
    );
    await textOf(alert).not.toContain("forbidden");
    const request = expectOk(await api("GET", `/v1/approvals/${order.approvalRequestIds[0]}`, KEY));
    expect(request).toMatchObject({ status: "PENDING", decisions: [] });
  });

  it("redrives a dead letter with a payload edited and checked against the item type's schema", async () => {
    expectOk(
      await api("POST", "/v1/schemas", KEY, {
        itemType: "REPORT",
        jsonSchema: {
          type: "object",
          required: ["pages"],
          additionalProperties: false,
          properties: { pages: { type: "integer", minimum: 1 }, title: { type: "string" } },
        },
      }),
      201,
    );
    const order = expectOk(
      await api("POST", "/v1/work-orders", KEY, {
        title: "Quarterly report",
        items: [{ type: "REPORT", payload: { pages: 3 }, maxAttempts: 1 }],
      }),
      201,
    );
    const itemId = order.items[0].id;
    const [claim] = expectOk(
      await api("POST", "/v1/work-items/claim", KEY, { workerId: "e2e-renderer", types: ["REPORT"] }),
    ).items;
    const failed = expectOk(
      await api("POST", `/v1/work-items/${itemId}/fail`, KEY, {
        attemptId: claim.attemptId,
        fencingToken: claim.fencingToken,
        error: "renderer crashed on page 3",
      }),
    );
    expect(failed).toMatchObject({ status: "FAILED", willRetry: false });
    expect(failed.deadLetterId).toEqual(expect.any(String));

    const page = ownerPage;
    await openSection(page, "Dead letters");
    const letters = page.getByRole("table", { name: "Dead letters" });
    await visible(letters);
    await letters.getByRole("link").first().click();
    await visible(page.getByRole("heading", { name: /^Dead letter / }));
    await textOf(page.getByRole("table", { name: "Errors, oldest first" })).toContain("renderer crashed on page 3");
    await textOf(page.getByRole("main")).toContain("REPORT (failed)");
    await screenshot(page, "dead-letter");

    await page.getByLabel("Edit the payload first").check();
    const editor = page.getByLabel(/^Payload \(JSON\)/);
    await textOf(page.getByRole("main")).toContain("checked against the REPORT schema, version 1");
    await editor.fill('{ "pages": "five", "colour": true }');
    const problems = page.getByTestId("schema-problems");
    await textOf(problems).toContain("/pages must be integer");
    await textOf(problems).toContain("/colour must NOT have additional properties");
    const redrive = page.getByRole("button", { name: "Redrive with this payload" });
    await disabled(redrive).toBe(true);
    await editor.fill("{ not json");
    await textOf(page.getByRole("main")).toContain("This is not valid JSON");
    await disabled(redrive).toBe(true);
    await editor.fill('{ "pages": 5, "title": "Q3" }');
    await textOf(page.getByRole("main")).toContain("The payload matches the schema.");
    await redrive.click();
    await textOf(page.getByRole("status").filter({ hasText: "Redriven" })).toContain(
      "Redriven with the edited payload: the item is queued again.",
    );

    const item = expectOk(await api("GET", `/v1/work-items/${itemId}`, KEY));
    // A redrive keeps the attempt numbers and gives a fresh budget: every attempt so far is before it.
    expect(item).toMatchObject({ status: "QUEUED", payload: { pages: 5, title: "Q3" } });
    expect(item.retryBase).toBe(item.attemptCount);
    const letter = expectOk(await api("GET", `/v1/dead-letters/${failed.deadLetterId}`, KEY));
    expect(letter.status).toBe("REDRIVEN");

    await openSection(page, "Work");
    await page.getByRole("link", { name: "Quarterly report" }).click();
    await visible(page.getByRole("heading", { name: "Quarterly report" }));
    await textOf(page.getByRole("table", { name: "Items of this order" })).toContain("queued");
    await textOf(page.getByRole("list", { name: "Items by status" })).toContain("1 queued");
    await screenshot(page, "work-order");
  });

  it("shows those actions with their actors in the activity view, and each entity links its own", async () => {
    const page = ownerPage;
    await openSection(page, "Activity");
    const table = page.getByRole("table", { name: "Activity" });
    await visible(table);
    const row = (action: string) => table.getByRole("row").filter({ hasText: action });
    await textOf(row("approval.approved")).toContain("Ada Approver <ada@example.test>");
    await textOf(row("dead_letter.redriven")).toContain("admin@localhost (you)");
    await textOf(row("work_order.created").first()).toContain("admin@localhost (you)");
    await screenshot(page, "activity");

    await page.getByLabel(/^Action/).fill("approval.*");
    await page.getByRole("button", { name: "Show" }).click();
    await countOf(table.getByRole("row").filter({ hasText: "dead_letter" })).toBe(0);
    await countOf(row("approval.approved")).toBe(1);

    // The order's page links its own activity.
    await openSection(page, "Work");
    await page.getByRole("link", { name: "Quarterly report" }).click();
    await page.getByRole("link", { name: "Activity of this order" }).click();
    await countOf(row("work_order.created")).toBe(1);
    const entities = await table.locator("tbody td[data-label=Entity]").allInnerTexts();
    expect(entities.length).toBeGreaterThan(0);
    expect(entities.every((entity) => entity.startsWith("work order"))).toBe(true);
  });

  it("fits a phone's width, and a reload asks for the key again", async () => {
    const page = await newPage(375, 800);
    await signIn(page, KEY);
    await openSection(page, "Work");
    await visible(page.getByRole("table", { name: "Work orders" }));
    expect(await page.evaluate<number>(IN_PAGE.pageWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, "work-orders-phone");
    await page.reload();
    await visible(page.getByRole("heading", { name: "Sign in to the Cairn console" }));
    await textOf(page.getByRole("main")).toContain("reloading the page or opening a new tab asks for it again");
  });

  it("switches workspace by signing in with that workspace's key, and back without it", async () => {
    const created = expectOk(await api("POST", "/v1/workspaces", KEY, { name: "Second shop" }), 201);
    secondKey = created.apiKey.key;
    const page = await newPage();
    await signIn(page, KEY);
    await openSection(page, "Account");
    await textOf(page.getByRole("main")).toContain("An API key belongs to one workspace");
    await page.getByRole("button", { name: "Sign in to Second shop" }).click();
    await textOf(page.getByRole("main")).toContain("To switch to Second shop, sign in with a key of that workspace");
    await page.getByLabel("API key").fill(secondKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await textOf(page.getByTestId("whoami")).toContain("Second shop");
    await openSection(page, "Account");
    await page.getByRole("button", { name: "Switch to default" }).click();
    await textOf(page.getByTestId("whoami")).toContain("in default");
  });

  it("keeps every key out of storage, cookies, URLs, the page's markup and the server's log", async () => {
    const keys = [KEY, approver.key, secondKey];
    for (const context of contexts) {
      expect(await context.cookies()).toEqual([]);
      for (const page of context.pages()) {
        const stored = await page.evaluate<string>(IN_PAGE.everythingStored);
        for (const key of keys) expect(stored).not.toContain(key);
      }
    }
    expect(urls.length).toBeGreaterThan(20);
    for (const key of keys) {
      for (const url of urls) expect(url).not.toContain(key);
      expect(cairn.log()).not.toContain(key);
      // Nor a telling piece of it (the secret after the prefix).
      expect(cairn.log()).not.toContain(key.slice(-32));
    }
    expect(cairn.log()).toContain('"path":"/v1/me"');
  });
});
