import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, waitHydrated, assertNoProblems } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a responder declares from a firing alarm in one click and works the timeline', async () => {
  const { context, page, problems } = await openPage(browser);
  await page.goto(`${BASE_URL}/login?next=/env/curriculum-alignment-prod`);
  await waitHydrated(page);
  await page.click('[data-testid=login-alice]');
  await page.waitForURL(`${BASE_URL}/env/curriculum-alignment-prod`);
  // The demo's Lambda error-rate alarm always fires: its row offers to declare.
  await page.click('[data-testid=declare-from-alarm] >> nth=0');
  await page.waitForURL(/\/incidents\?declare=1/);
  await waitHydrated(page);
  const title = await page.inputValue('[data-testid=declare-form] input[name=title]');
  assert.match(title, /firing$/, 'the title is prefilled from the alarm');
  assert.equal(await page.inputValue('[data-testid=declare-form] input[name=environment]'), 'curriculum-alignment-prod');
  await page.click('[data-testid=declare]');
  await page.waitForURL(/\/incidents\/\d+$/);
  await page.waitForSelector('[data-testid=timeline] li');
  assert.match(await page.locator('[data-testid=incident-title]').textContent(), /firing/);
  const kinds = await page.locator('[data-testid=timeline] li').evaluateAll((els) => els.map((e) => e.dataset.kind));
  // Ordered by when things happened: the alarm fired before anyone declared.
  assert.ok(kinds.indexOf('alarm') >= 0 && kinds.indexOf('alarm') < kinds.indexOf('declared'), `${kinds}`);
  assert.ok(await page.locator('.demo-banner').count() > 0, 'demo data is labelled');
  // The linked alarm's metric with its threshold, around the incident window.
  await page.waitForSelector('[data-testid=incident-chart] svg');
  assert.match(await page.locator('[data-testid=incident-chart]').textContent(), /alarm curriculum-alignment-prod/);

  // A note and a status change appear in order without a reload.
  await waitHydrated(page);
  await page.evaluate(() => { window.__stillHere = true; });
  await page.fill('[data-testid=note-form] textarea[name=text]', 'error rate from one function only');
  await page.click('[data-testid=note-form] button[type=submit]');
  await page.waitForSelector('[data-testid=timeline] li:has-text("error rate from one function only")');
  assert.equal(await page.inputValue('[data-testid=note-form] textarea[name=text]'), '', 'the box is ready for the next note');
  assert.match(await page.getAttribute('[data-testid=access-for-incident]', 'href'), /^\/access\?incident=\d+$/);
  await page.selectOption('[data-testid=status-form] select[name=to]', 'acknowledged');
  await page.click('[data-testid=status-form] button[type=submit]');
  await page.waitForSelector('[data-testid=incident-status]:has-text("acknowledged")');
  const texts = await page.locator('[data-testid=timeline] li .text').allTextContents();
  const note = texts.findIndex((t) => t.includes('error rate from one function only'));
  const ack = texts.findIndex((t) => t.includes('triggered → acknowledged'));
  assert.ok(note >= 0 && ack > note, `note before the status change: ${texts}`);

  // An illegal move is refused with the reason, and nothing changes.
  await page.selectOption('[data-testid=status-form] select[name=to]', 'closed');
  await page.click('[data-testid=status-form] button[type=submit]');
  await page.waitForSelector('.error-box:has-text("cannot go from acknowledged to closed")');
  assert.equal(await page.evaluate(() => window.__stillHere), true, 'the forms posted without a page load');
  // Chrome logs the refused request (422) as a console error: that refusal is the point here.
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('422')));

  // The list shows it open, with the time to acknowledge against the target.
  await page.goto(`${BASE_URL}/incidents?status=open`);
  await page.waitForSelector('[data-testid=incidents]');
  const row = await page.locator('[data-testid=incidents] tbody tr', { hasText: 'curriculum-alignment-prod' }).first().textContent();
  assert.match(row, /acknowledged/);
  assert.match(row, /target \d+ min/);
  assertNoProblems(problems);
  await context.close();
});
