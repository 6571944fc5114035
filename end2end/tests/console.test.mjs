import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, DEMO_ENVIRONMENTS, MOTO_ENVIRONMENT, launch, openPage, waitHydrated, assertNoProblems } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the overview lists every demo environment, labelled as demo, and the live one unlabelled', async () => {
  const { context, page, problems } = await openPage(browser);
  const response = await page.goto(`${BASE_URL}/`);
  assert.equal(response.status(), 200);
  const names = await page.locator('[data-testid=env-card] .env-name').allTextContents();
  assert.deepEqual([...names].sort(), [...DEMO_ENVIRONMENTS, MOTO_ENVIRONMENT].sort());
  assert.equal(await page.locator('[data-testid=env-card] .badge.demo').count(), DEMO_ENVIRONMENTS.length);
  const live = page.locator(`[data-testid=env-card]:has-text("${MOTO_ENVIRONMENT}")`);
  assert.equal(await live.locator('.badge.demo').count(), 0);
  assert.match(await page.locator('.demo-banner').textContent(), /Demo data/);
  await waitHydrated(page);
  assertNoProblems(problems);
  await context.close();
});

test('the filter box works once the page is hydrated', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/`);
  await waitHydrated(page);
  await page.fill('[data-testid=env-filter]', 'homebrew');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=env-card]').length === 3, null, { timeout: 5000 });
  assert.equal(await page.locator('[data-testid=env-count]').textContent(), `3 of ${DEMO_ENVIRONMENTS.length + 1} environments`);
  await page.fill('[data-testid=env-filter]', 'eu-central');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=env-card]').length === 1, null, { timeout: 5000 });
  assert.equal(await page.locator('[data-testid=env-card] .env-name').textContent(), 'curriculum-alignment-prod');
  assertNoProblems(problems);
  await context.close();
});

test('an environment page lists its resources and alarms', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/`);
  await waitHydrated(page);
  await page.click('[data-testid=env-card]:has-text("taskflow-production")');
  await page.waitForURL(`${BASE_URL}/env/taskflow-production`);
  await page.waitForSelector('[data-testid=resources]');
  assert.equal(await page.locator('[data-testid=env-title]').textContent(), 'taskflow-production');
  assert.equal(await page.locator('.page-head .badge.demo').count(), 1);
  const table = await page.locator('[data-testid=resources]').textContent();
  for (const name of ['taskflow-api-production', 'taskflow-production-alb', 'taskflow-production-redis', 'taskflow-production-acl']) {
    assert.ok(table.includes(name), `resources table lacks ${name}`);
  }
  const alarms = await page.locator('[data-testid=alarms]').textContent();
  assert.ok(alarms.includes('taskflow-production-error-rate'));
  assertNoProblems(problems);
  await context.close();
});

test('unknown paths and environments say not found', async () => {
  const { context, page } = await openPage(browser);
  const r = await page.goto(`${BASE_URL}/no/such/page`);
  assert.equal(r.status(), 404);
  assert.equal(await page.locator('h1').textContent(), 'Not found');
  const e = await page.goto(`${BASE_URL}/env/no-such-env`);
  assert.equal(e.status(), 404);
  assert.match(await page.locator('.error-box').textContent(), /no environment named "no-such-env"/);
  await context.close();
});

test('the dev login signs in with a role, and the login is audited', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/audit`);
  assert.match(await page.locator('.error-box').textContent(), /needs the admin role/);
  problems.length = 0; // the 403 of that page is the point; what follows must be clean
  await page.goto(`${BASE_URL}/login?next=/audit`);
  await waitHydrated(page);
  await page.click('[data-testid=login-carol]');
  await page.waitForURL(`${BASE_URL}/audit`);
  assert.equal(await page.locator('[data-testid=who]').textContent(), 'Carol (ops admin) (admin)');
  await page.waitForSelector('[data-testid=audit]');
  const rows = await page.locator('[data-testid=audit] tbody tr').allTextContents();
  assert.ok(rows.some((r) => r.includes('carol') && r.includes('login')), `no login entry in ${rows}`);
  await page.click('button:has-text("Sign out")');
  await page.waitForURL(`${BASE_URL}/`);
  await page.waitForSelector('a:has-text("Sign in")');
  assertNoProblems(problems);
  await context.close();
});

test('a moto-backed environment shows its topology and a service page', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/env/${MOTO_ENVIRONMENT}`);
  await waitHydrated(page);
  assert.equal(await page.locator('.demo-banner').count(), 0, 'live data carries no demo label');
  const svg = await page.locator('[data-testid=topology]').textContent();
  for (const name of ['taskflow-production-alb', 'taskflow-production-blue', 'taskflow-production-green', 'taskflow-api-production', 'taskflow-production']) {
    assert.ok(svg.includes(name), `diagram lacks ${name}`);
  }
  await page.click('[data-testid=topology] a:has-text("taskflow-api-production")');
  await page.waitForURL(`${BASE_URL}/env/${MOTO_ENVIRONMENT}/services/taskflow-api-production`);
  await page.waitForSelector('[data-testid=tasks]');
  assert.equal(await page.locator('[data-testid=service-title]').textContent(), 'taskflow-api-production');
  assert.equal(await page.locator('[data-testid=tasks] tbody tr').count(), 4);
  assert.match(await page.locator('[data-testid=taskdef]').textContent(), /taskflow-api-production:1/);
  assertNoProblems(problems);
  await context.close();
});

test('charts render without JavaScript', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const r = await page.goto(`${BASE_URL}/env/taskflow-production/metrics?range=1h`);
  assert.equal(r.status(), 200);
  const charts = page.locator('[data-testid=chart]');
  assert.ok(await charts.count() >= 8, 'a chart per reading of the TaskFlow dashboard');
  const p95 = page.locator('[data-testid=chart]:has-text("P95 latency")');
  assert.equal(await p95.locator('path.series').count(), 1);
  assert.equal(await p95.locator('[data-testid=threshold]').count(), 1, 'the alarm threshold is drawn');
  assert.match(await p95.locator('figcaption').textContent(), /\(ms\)/);
  assert.equal(await page.locator('body[data-hydrated]').count(), 0, 'really no JavaScript ran');
  await context.close();
});

test('charts show hover values and change range in place once hydrated', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/env/taskflow-production/metrics?range=1h`);
  await waitHydrated(page);
  await page.evaluate(() => { window.__stillHere = true; });
  const svg = page.locator('[data-testid=chart]:has-text("Requests/s") svg');
  const box = await svg.boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  const readout = await page.locator('[data-testid=readout]').first().textContent({ timeout: 5000 });
  assert.match(readout, /Requests\/s \d/);
  await page.click('a.range:has-text("6h")');
  await page.waitForFunction(() => document.body.textContent.includes('one point per 300 s'), null, { timeout: 10000 });
  assert.equal(await page.evaluate(() => window.__stillHere), true, 'no full page load');
  assertNoProblems(problems);
  await context.close();
});

test('a person signs in through the identity provider and lands on the page they asked for', async () => {
  const consoleUrl = process.env.OIDC_CONSOLE_URL;
  const provider = process.env.OIDC_URL;
  assert.ok(consoleUrl && provider, 'scripts/test.sh starts an OIDC console and provider');
  const put = await fetch(`${provider}/users/erin`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Erin Reader', email: 'erin@example.com', groups: ['ops-readers'] }),
  });
  assert.ok(put.ok);
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${consoleUrl}/env/taskflow-production`);
  assert.ok(page.url().startsWith(provider), `sent to the provider: ${page.url()}`);
  await page.fill('input[name=sub]', 'erin');
  await page.click('button:has-text("Authorize")');
  await page.waitForURL(`${consoleUrl}/env/taskflow-production`);
  problems.length = 0; // the provider's own page loads a stylesheet from the internet; ours must be clean
  await waitHydrated(page);
  assert.equal(await page.locator('[data-testid=env-title]').textContent(), 'taskflow-production');
  assert.equal(await page.locator('[data-testid=who]').textContent(), 'Erin Reader (viewer)');
  assertNoProblems(problems);
  await context.close();
});

test('a person whose groups map to no role is told they have no access', async () => {
  const consoleUrl = process.env.OIDC_CONSOLE_URL;
  const provider = process.env.OIDC_URL;
  const put = await fetch(`${provider}/users/nora`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Nora Marketing', groups: ['marketing'] }),
  });
  assert.ok(put.ok);
  const { context, page } = await openPage(browser);
  await page.goto(`${consoleUrl}/`);
  await page.fill('input[name=sub]', 'nora');
  await page.click('button:has-text("Authorize")');
  await page.waitForURL(`${consoleUrl}/`);
  assert.match(await page.locator('[data-testid=no-access]').textContent(), /No access: Nora Marketing has no console role/);
  assert.match(await page.locator('.error-box').first().textContent(), /needs the viewer role/);
  await context.close();
});
