// Shared by the browser tests: Debian's chromium through playwright-core, never a downloaded browser.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:3000';

export const DEMO_ENVIRONMENTS = [
  'taskflow-production',
  'homebrew-bottles-sync-prod',
  'homebrew-bottles-sync-staging',
  'homebrew-bottles-sync-dev',
  'docdb-bluegreen-prod',
  'curriculum-alignment-prod',
];

// Configured by scripts/test.sh against moto, seeded by scripts/seed_moto.py.
export const MOTO_ENVIRONMENT = 'moto-taskflow';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}

// A fresh context and page that records page errors and console errors (CSP violations,
// hydration panics) so that each test can assert there were none.
export async function openPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  return { context, page, problems };
}

// Hydration is done when the app's first effect has marked <body>.
export async function waitHydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });
}

export function assertNoProblems(problems) {
  assert.deepEqual(problems, [], `the page reported errors:\n${problems.join('\n')}`);
}
