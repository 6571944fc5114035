import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, waitHydrated, assertNoProblems } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function signIn(page, user, next) {
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(next)}`);
  await waitHydrated(page);
  await page.click(`[data-testid=login-${user}]`);
  await page.waitForURL(`${BASE_URL}${next}`);
  await waitHydrated(page);
}

test('alice asks, bob approves on the request page, alice sees her credentials once with a countdown', async () => {
  const a = await openPage(browser);
  await signIn(a.page, 'alice', '/access');
  await a.page.waitForSelector('[data-testid=request-form]');
  assert.ok(await a.page.locator('.demo-banner').count() > 0, 'demo profiles are labelled');
  await a.page.selectOption('[data-testid=request-form] select[name=environment]', 'taskflow-production');
  // The profile list follows the environment: the profiles the table lists for it, no other.
  const expected = await a.page.locator('[data-testid=request-form]').evaluate((form) =>
    [...form.closest('section').querySelectorAll('table tbody tr')]
      .map((tr) => [...tr.children].map((td) => td.textContent))
      .filter((cells) => cells[0] === 'taskflow-production')
      .map((cells) => cells[1]));
  await a.page.waitForFunction((n) => document.querySelectorAll('[data-testid=request-form] select[name=profile] option').length === n, expected.length);
  const offered = await a.page.locator('[data-testid=request-form] select[name=profile] option').allTextContents();
  assert.deepEqual(offered, expected);
  assert.ok(!offered.includes('moto-readonly'), 'another environment\'s profile is left out');
  await a.page.selectOption('[data-testid=request-form] select[name=environment]', 'moto-taskflow');
  await a.page.waitForFunction(() => document.querySelector('[data-testid=request-form] select[name=profile]').value === 'moto-readonly');
  assert.equal(await a.page.getAttribute('[data-testid=request-form] input[name=minutes]', 'max'), '15');
  await a.page.selectOption('[data-testid=request-form] select[name=environment]', 'taskflow-production');
  await a.page.selectOption('[data-testid=request-form] select[name=profile]', 'prod-readonly');
  assert.match(await a.page.locator('[data-testid=profile-rule]').textContent(), /^prod-readonly: at most \d+ min, /);
  await a.page.fill('[data-testid=request-form] input[name=reason]', 'look at slow queries');
  await a.page.fill('[data-testid=request-form] input[name=ticket]', 'INC-314');
  await a.page.fill('[data-testid=request-form] input[name=minutes]', '30');
  await a.page.click('[data-testid=request]');
  await a.page.waitForURL(/\/access\/requests\/\d+$/);
  const url = a.page.url();
  await a.page.waitForSelector('[data-testid=access-status]:has-text("pending")');
  assert.match(await a.page.locator('[data-testid=decide-refused]').textContent(), /two-person rule/);

  const b = await openPage(browser);
  await signIn(b.page, 'bob', new URL(url).pathname);
  assert.equal(await b.page.locator('[data-testid=access-reason]').textContent(), 'look at slow queries');
  await b.page.click('[data-testid=approve]');
  await b.page.waitForSelector('[data-testid=access-status]:has-text("approved")');

  await a.page.reload();
  await waitHydrated(a.page);
  await a.page.click('[data-testid=activate]');
  await a.page.waitForSelector('[data-testid=credentials]');
  const exports = await a.page.locator('[data-testid=env-exports]').textContent();
  assert.match(exports, /export AWS_ACCESS_KEY_ID=ASIADEMO/);
  assert.match(exports, /export AWS_SESSION_TOKEN=/);
  const first = await a.page.locator('[data-testid=countdown]').textContent();
  assert.match(first, /^(29|30) min \d\d s left$/);
  await a.page.waitForFunction((t) => document.querySelector('[data-testid=countdown]')?.textContent !== t, first);
  await a.page.waitForSelector('[data-testid=access-status]:has-text("active")');
  // Shown once: a reload shows the grant's key id and expiry, never the secret.
  await a.page.reload();
  await a.page.waitForSelector('[data-testid=grant]');
  assert.equal(await a.page.locator('[data-testid=credentials]').count(), 0);
  assert.match(await a.page.locator('[data-testid=grant]').textContent(), /ASIADEMO\w+ \(session req-\d+-alice\)/);
  assertNoProblems(a.problems);
  assertNoProblems(b.problems);
  await a.context.close();
  await b.context.close();
});
