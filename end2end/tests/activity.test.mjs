// Issue 16 in the browser: from a firing alarm to the logs around it, a log line pinned to an
// incident's timeline, the recent changes of an environment (all on the demo, labelled so).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, waitHydrated, assertNoProblems } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('from a firing alarm to the logs around it in two clicks, and a log line pinned to the incident', async () => {
  const { page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/login?next=/`);
  await waitHydrated(page);
  await page.click('[data-testid=login-alice]');
  await page.waitForURL(`${BASE_URL}/`);

  // Click 1: the environment with the firing alarm. Click 2: that alarm's logs.
  await page.click('[data-testid=env-card][href="/env/curriculum-alignment-prod"]');
  await page.waitForURL(`${BASE_URL}/env/curriculum-alignment-prod`);
  const firing = page.locator('[data-testid=alarms] tr.firing', { hasText: 'lambda-error-rate' });
  await firing.locator('[data-testid=alarm-logs]').click();
  await page.waitForURL(/\/env\/curriculum-alignment-prod\/logs\?source=lambda%3Acurriculum-alignment-prod-document-processing&around=\d+$/);
  assert.match(await page.locator('[data-testid=logs-title]').textContent(), /Lambda function curriculum-alignment-prod-document-processing/);
  assert.equal(await page.locator('[data-testid=log-group]').textContent(), '/aws/lambda/curriculum-alignment-prod-document-processing');
  const lines = await page.locator('[data-testid=log-lines] tbody tr').count();
  assert.ok(lines > 0, 'lines around the alarm');
  assert.ok(await page.locator('.demo-banner').count() > 0, 'demo data is labelled');

  // The filter narrows them to the errors.
  await waitHydrated(page);
  await page.fill('[data-testid=logs-filter] input[name=filter]', 'ERROR');
  await page.click('[data-testid=logs-filter] button[type=submit]');
  await page.waitForURL(/filter=ERROR/);
  const messages = await page.locator('[data-testid=log-lines] pre.log').allTextContents();
  assert.ok(messages.length > 0 && messages.every((m) => m.includes('ERROR')), `${messages}`);

  // An incident from the alarm, then its logs from the incident page, and a line attached.
  await page.goto(`${BASE_URL}/env/curriculum-alignment-prod`);
  await page.locator('[data-testid=alarms] tr.firing', { hasText: 'lambda-error-rate' }).locator('[data-testid=declare-from-alarm]').click();
  await page.waitForURL(/\/incidents\?declare=1/);
  await page.click('[data-testid=declare]');
  await page.waitForURL(/\/incidents\/\d+$/);
  const incident = page.url().split('/').pop();
  await page.waitForSelector('[data-testid=incident-logs] a');
  assert.ok(await page.locator('[data-testid=changes-before]').count() === 1, 'what changed in the hour before');
  await page.click('[data-testid=incident-logs] a >> nth=0');
  await page.waitForURL(new RegExp(`/logs\\?source=.*incident=${incident}`));
  const row = page.locator('[data-testid=log-lines] tbody tr', { hasText: 'ERROR' }).first();
  const pinned = (await row.locator('pre.log').textContent()).trim();
  await waitHydrated(page);
  await row.locator('[data-testid=attach-form] button').click();
  await page.waitForURL(`${BASE_URL}/incidents/${incident}`);
  const entry = page.locator('[data-testid=timeline] li[data-kind=log]');
  await entry.first().waitFor();
  assert.ok((await entry.first().textContent()).includes(pinned), `the pinned line is on the timeline: ${pinned}`);
  assertNoProblems(problems);
});

test('the recent changes of an environment, newest first, and the deployments on its charts', async () => {
  const { page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent('/env/taskflow-production/changes?since=24h')}`);
  await waitHydrated(page);
  await page.click('[data-testid=login-dave]');
  await page.waitForURL(/\/env\/taskflow-production\/changes\?since=24h$/);
  const times = await page.locator('[data-testid=changes] tbody tr td:first-child').allTextContents();
  assert.ok(times.length > 0, 'simulated changes of the demo');
  assert.deepEqual([...times].sort().reverse(), times, 'newest first');
  assert.ok(await page.locator('.demo-banner').count() > 0, 'demo data is labelled');
  await page.goto(`${BASE_URL}/env/taskflow-production/metrics?range=24h`);
  await page.waitForSelector('[data-testid=chart] svg');
  assertNoProblems(problems);
});
