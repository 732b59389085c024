// Drives the dashboard in headless Chromium against a real daemon.
//
// Run by host/tests/dashboard.rs, which starts the daemon and registers the
// charms first. Environment: DASHBOARD_URL, LOGGED_URL (the dashboard URL
// with the token, as the daemon logs it), TOKEN, FAILING_ID, GOOD_ID,
// XSS_ID, INBOX_ID (a charm with one dead letter, whose source now takes
// it), OTHER_ID (a charm of another space), SPACE_TOKEN (a token of the
// space "e2e" only), SCREENSHOT (path of the overview screenshot to keep).
// Exits non-zero with a message on the first failed expectation.
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const { DASHBOARD_URL, LOGGED_URL, TOKEN, FAILING_ID, GOOD_ID, XSS_ID, INBOX_ID, OTHER_ID, SPACE_TOKEN, SCREENSHOT } = process.env;
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
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
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
  expect((await page.locator("tbody tr[data-charm-id]").count()) === 5, "five charms listed, of two spaces");
  expect((await page.textContent('[data-count="enabled"]')).trim() === "5", "five enabled");
  expect((await page.textContent("#whoami")).trim() === "operator", "signed in as the operator");
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

  // Take the failed run home for `charm-host replay` (issue 14).
  const downloadButton = page.locator("button[data-download]").first();
  const runId = await downloadButton.getAttribute("data-download");
  const [download] = await Promise.all([page.waitForEvent("download"), downloadButton.click()]);
  expect(download.suggestedFilename() === `run-${runId}.json`, `the file is named for the run: ${download.suggestedFilename()}`);
  const runFile = JSON.parse(await readFile(await download.path(), "utf8"));
  expect(runFile.format === "charm-host-run/1", `a run file: ${runFile.format}`);
  expect(String(runFile.run.id) === runId && runFile.charm.name === "thrower.js", "of the failed run and its charm");
  expect(runFile.run.error.includes("cannot read property 'trim' of undefined"), `with its error: ${runFile.run.error}`);
  expect(typeof runFile.inputs.recording.seed === "string", "and its recording");

  // Disable it.
  await page.click("button:text-is('Disable')");
  await page.locator("button:text-is('Enable')").waitFor();
  expect((await page.textContent('[data-field="status"]')).includes("disabled by a user"), "the reason is shown");

  // Back to the overview: the filter finds it now.
  await page.click("a[href='#/']");
  await page.locator(`tr[data-charm-id="${GOOD_ID}"]`).waitFor();
  await page.selectOption("select[name=status]", "disabled");
  // The filtered list: the disabled charm, and nothing else.
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll("tbody tr[data-charm-id]")];
    return rows.length > 0 && rows.every((r) => r.dataset.charmId === id);
  }, FAILING_ID);
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
  expect((await page.locator("button[data-download]").count()) === 0, "a successful run offers no download");

  // State history: the counter's versions, a diff, and a rollback.
  // Two runs wrote versions 1 and 2 (the list may lag the runs by a refresh).
  await page.locator('tr[data-state-version="2"]').waitFor();
  await page.locator('tr[data-state-version="0"]').waitFor();
  const newest = Number(await page.locator("tr[data-state-version]").first().getAttribute("data-state-version"));
  await page.click('button[data-diff="0"]');
  await page.locator("#state-diff").waitFor({ state: "visible" });
  expect((await page.textContent("#state-diff")).includes('"path":"/count"'), "the diff names what changed");
  await page.click('button[data-rollback="0"]');
  await page.waitForFunction((n) => document.querySelector("tr[data-state-version]")?.dataset.stateVersion === String(n + 1), newest);
  expect((await page.textContent("#charm-state")).trim() === "{}", "the state is version 0's again");

  // The playground: edit, try, see the change; nothing is stored.
  const storedBefore = await page.textContent("#charm-state");
  await page.click("#playground summary");
  await page.fill("#play-state", '{"count": 41}');
  await page.fill("#play-source", (await page.inputValue("#play-source")).replace("+ 1", "+ 2"));
  await page.click("#play-run");
  await page.locator("#play-patch").waitFor();
  expect((await page.textContent("#play-patch")).includes('"path":"/count","value":43'), `the change is shown: ${await page.textContent("#play-patch")}`);
  expect((await page.textContent("#play-state-out")).includes('"count": 43'), "the state it would leave");
  await page.fill("#play-source", "export function bgUpdater(s) {\n  return s.a.b;\n}");
  await page.click("#play-run");
  await page.locator("#play-result [data-position]").waitFor();
  expect((await page.textContent("#play-result")).includes("TypeError"), "the error is shown");
  expect((await page.textContent("#charm-state")) === storedBefore, "the stored state is unchanged");
  expect((await page.inputValue("#play-source")).includes("s.a.b"), "a refresh keeps the edit");

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

  // A space token's view: its own space only, and no service-wide counts.
  const tenant = await browser.newPage();
  tenant.setDefaultTimeout(TIMEOUT);
  await tenant.goto(`${DASHBOARD_URL}#token=${SPACE_TOKEN}`);
  await tenant.locator(`tr[data-charm-id="${GOOD_ID}"]`).waitFor();
  expect((await tenant.textContent("#whoami")).trim() === "space e2e", "the header says which space");
  expect((await tenant.locator("tbody tr[data-charm-id]").count()) === 4, "the space's four charms");
  expect((await tenant.locator(`tr[data-charm-id="${OTHER_ID}"]`).count()) === 0, "not another space's");
  expect((await tenant.textContent('[data-count="space-charms"]')).trim() === "4", "the space's total");
  expect((await tenant.locator('[data-count="enabled"]').count()) === 0, "no service-wide counts");
  expect(await tenant.locator("input[name=space]").isDisabled(), "the space filter is fixed");
  await tenant.goto(`${DASHBOARD_URL}#/charms/${OTHER_ID}`);
  await tenant.locator("#app p.bad").waitFor();
  expect((await tenant.textContent("#app")).includes(`no charm with id \`${OTHER_ID}\``), "another space's charm is not found");
  await tenant.goto(`${DASHBOARD_URL}#/charms/${GOOD_ID}`);
  await tenant.locator("tr[data-run-id]").first().waitFor();

  expect(consoleErrors.length === 0, `no console errors: ${consoleErrors.join("; ")}`);
  console.log("dashboard: all checks passed");
} finally {
  await browser.close();
}
