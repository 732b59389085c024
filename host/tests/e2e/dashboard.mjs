// Drives the dashboard in headless Chromium against a real daemon.
//
// Run by host/tests/dashboard.rs, which starts the daemon and registers the
// charms first. Environment: DASHBOARD_URL, LOGGED_URL (the dashboard URL
// with the token, as the daemon logs it), TOKEN, FAILING_ID, GOOD_ID,
// XSS_ID, INBOX_ID (a charm with one dead letter, whose source now takes
// it), SCREENSHOT (path of the overview screenshot to keep).
// Exits non-zero with a message on the first failed expectation.
import { chromium } from "playwright-core";

const { DASHBOARD_URL, LOGGED_URL, TOKEN, FAILING_ID, GOOD_ID, XSS_ID, INBOX_ID, SCREENSHOT } = process.env;
const PORT = new URL(DASHBOARD_URL).port;
const TIMEOUT = 20_000;

function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    // A DNS-rebinding page: a name of someone else's that resolves to the daemon.
    "--host-resolver-rules=MAP rebind.test 127.0.0.1",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(TIMEOUT);
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("dialog", (d) => d.accept());

  // A page reaching the daemon under someone else's name gets nothing.
  const attacker = await browser.newPage();
  const rebound = await attacker.goto(`http://rebind.test:${PORT}/`);
  expect(rebound.status() === 403, `a foreign Host is refused: ${rebound.status()}`);
  expect((await rebound.text()).includes("--allowed-host rebind.test"), "the refusal names the flag");
  await attacker.close();

  // The URL the daemon logs signs in, and the token leaves the address bar.
  await page.goto(LOGGED_URL);
  await page.locator(`tr[data-charm-id="${FAILING_ID}"]`).waitFor();
  expect(!(await page.locator("#login").evaluate((d) => d.open)), "no sign-in dialog");
  expect(!page.url().includes("token") && !page.url().includes(TOKEN), `the token left the address bar: ${page.url()}`);
  expect((await page.evaluate(() => sessionStorage.getItem("charm-host-token"))) === TOKEN, "the token is kept for the session");
  expect((await page.locator("tbody tr[data-charm-id]").count()) === 4, "four charms listed");
  expect((await page.textContent('[data-count="enabled"]')).trim() === "4", "four enabled");
  expect((await page.textContent('[data-count="events-dead"]')).trim() === "1", "one dead letter");
  expect((await page.textContent(`[data-inbox="${INBOX_ID}"]`)).includes("1 dead"), "the charm's row shows it");
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Filtering by status happens on the server and keeps the filter.
  await page.selectOption("select[name=status]", "disabled");
  await page.locator("tbody tr[data-charm-id]").first().waitFor({ state: "detached" });
  expect(/no charms match/.test(await page.textContent(".pager")), "no disabled charm yet");
  await page.selectOption("select[name=status]", "");
  await page.locator(`tr[data-charm-id="${FAILING_ID}"]`).waitFor();

  // Find the failing charm, open it, read its error.
  const failingRow = page.locator(`tr[data-charm-id="${FAILING_ID}"]`);
  expect((await failingRow.locator("[data-outcome]").getAttribute("data-outcome")) === "error", "the failing charm shows its error outcome");
  await failingRow.click();
  await page.locator("#charm-error").waitFor({ state: "visible" });
  const error = await page.textContent("#charm-error");
  expect(error.includes("TypeError: cannot read property 'trim' of undefined"), `the error is shown: ${error}`);
  expect(error.includes("at parse ("), "with its stack");
  await page.screenshot({ path: SCREENSHOT.replace(/overview\.png$/, "failing-charm.png"), fullPage: true });

  // Disable it.
  await page.click("button:text-is('Disable')");
  await page.locator("button:text-is('Enable')").waitFor();
  expect((await page.textContent('[data-field="status"]')).includes("disabled by a user"), "the reason is shown");

  // Back to the overview: the filter finds it now.
  await page.click("a[href='#/']");
  await page.selectOption("select[name=status]", "disabled");
  await page.locator(`tr[data-charm-id="${GOOD_ID}"]`).waitFor({ state: "detached" });
  expect((await page.locator("tbody tr[data-charm-id]").count()) === 1, "only the disabled charm");
  await page.selectOption("select[name=status]", "");

  // Run another one now and see its run appear.
  await page.locator(`tr[data-charm-id="${GOOD_ID}"]`).click();
  await page.locator("tr[data-run-id]").first().waitFor();
  const before = await page.locator("tr[data-run-id]").count();
  await page.click("button:text-is('Run now')");
  await page.waitForFunction((n) => {
    const rows = document.querySelectorAll("tr[data-run-id]");
    return rows.length > n && rows[0].querySelector("[data-outcome='ok']");
  }, before);

  // Its secret is listed by name and when it changed, never by value.
  const secrets = await page.textContent('[data-field="secrets"]');
  expect(secrets.includes("API_KEY (changed "), `the secret's name is shown: ${secrets}`);
  expect(!(await page.content()).includes(process.env.SECRET_VALUE), "the secret's value is nowhere on the page");

  // A dead letter is shown with its error and re-driven from the page.
  await page.goto(`${DASHBOARD_URL}#/charms/${INBOX_ID}`);
  const dead = page.locator('tr[data-event-status="dead"]');
  await dead.waitFor();
  expect((await dead.textContent()).includes("poison event"), "the dead letter shows its error");
  expect((await page.textContent('[data-field="schedule"]')).includes("0 7 * * MON-FRI (Europe/Berlin)"), "the cron schedule is shown");
  await dead.locator("button:text-is('Re-drive')").click();
  await page.waitForFunction(() => document.querySelector('tr[data-event-status="dead"]') === null
    && [...document.querySelectorAll("tr[data-run-id]")].some((r) => r.querySelector("[data-outcome='ok']")));

  // A charm that logs and stores markup shows it as text; nothing runs.
  await page.goto(`${DASHBOARD_URL}#/charms/${XSS_ID}`);
  await page.locator("tr[data-run-id]").first().waitFor();
  await page.locator("tr[data-run-id] details").first().evaluate((d) => (d.open = true));
  const log = await page.textContent(".run-log");
  expect(log.includes("<script>window.__pwned = 1</script>"), `the log is shown as text: ${log}`);
  const state = await page.textContent("#charm-state");
  expect(state.includes("<img src=x onerror=window.__pwned=2>"), "the state is shown as text");
  expect((await page.evaluate(() => window.__pwned)) === undefined, "no charm markup ran");
  expect((await page.locator("#app script, #app img").count()) === 0, "no charm markup became elements");

  // Without the token in the URL, the page asks for it once.
  const fresh = await browser.newPage();
  fresh.setDefaultTimeout(TIMEOUT);
  await fresh.goto(DASHBOARD_URL);
  await fresh.locator("#login").waitFor({ state: "visible" });
  await fresh.fill("#token-input", TOKEN);
  await fresh.click("#login-form button[type=submit]");
  await fresh.locator(`tr[data-charm-id="${GOOD_ID}"]`).waitFor();

  expect(consoleErrors.length === 0, `no console errors: ${consoleErrors.join("; ")}`);
  console.log("dashboard: all checks passed");
} finally {
  await browser.close();
}
