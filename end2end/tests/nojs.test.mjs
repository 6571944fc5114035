// Every action works with JavaScript disabled (issue 15): forms are plain posts, the server
// answers 303 to the page with the outcome on it, and activation answers with the credentials.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function signIn(browser, user, next) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(next)}`);
  await page.click(`[data-testid=login-${user}]`);
  await page.waitForURL(`${BASE_URL}${next}`);
  return { context, page };
}

test('without JavaScript: declare, note, status and its refusal, on the incident page', async () => {
  const { context, page } = await signIn(browser, 'alice', '/incidents?declare=1');
  await page.fill('[data-testid=declare-form] input[name=environment]', 'taskflow-production');
  await page.fill('[data-testid=declare-form] input[name=title]', 'checkout 5xx, seen without JavaScript');
  await page.click('[data-testid=declare]');
  await page.waitForURL(/\/incidents\/\d+$/);
  assert.match(await page.locator('[data-testid=incident-title]').textContent(), /seen without JavaScript/);

  await page.fill('[data-testid=note-form] textarea[name=text]', 'one AZ only');
  await page.click('[data-testid=note-form] button[type=submit]');
  await page.waitForSelector('[data-testid=timeline] li:has-text("one AZ only")');
  assert.equal(await page.inputValue('[data-testid=note-form] textarea[name=text]'), '');

  await page.selectOption('[data-testid=status-form] select[name=to]', 'acknowledged');
  await page.click('[data-testid=status-form] button[type=submit]');
  await page.waitForSelector('[data-testid=incident-status]:has-text("acknowledged")');

  await page.selectOption('[data-testid=status-form] select[name=to]', 'closed');
  await page.click('[data-testid=status-form] button[type=submit]');
  await page.waitForSelector('.error-box:has-text("cannot go from acknowledged to closed")');
  assert.match(await page.locator('[data-testid=incident-status]').textContent(), /acknowledged/);
  assert.equal(await page.locator('body[data-hydrated]').count(), 0, 'really no JavaScript ran');
  await context.close();
});

test('without JavaScript: ask, approve as another person, activate once, revoke', async () => {
  const a = await signIn(browser, 'alice', '/access');
  await a.page.selectOption('[data-testid=request-form] select[name=environment]', 'taskflow-production');
  await a.page.selectOption('[data-testid=request-form] select[name=profile]', 'prod-readonly');
  await a.page.fill('[data-testid=request-form] input[name=reason]', 'check the slow query log');
  await a.page.fill('[data-testid=request-form] input[name=ticket]', 'INC-271');
  await a.page.click('[data-testid=request]');
  await a.page.waitForURL(/\/access\/requests\/\d+$/);
  const path = new URL(a.page.url()).pathname;

  const b = await signIn(browser, 'bob', path);
  await b.page.click('[data-testid=approve]');
  await b.page.waitForSelector('[data-testid=access-status]:has-text("approved")');

  await a.page.goto(`${BASE_URL}${path}`);
  const [answer] = await Promise.all([
    a.page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(path)),
    a.page.click('[data-testid=activate]'),
  ]);
  assert.equal(answer.headers()['cache-control'], 'no-store');
  await a.page.waitForSelector('[data-testid=credentials]');
  assert.match(await a.page.locator('[data-testid=env-exports]').textContent(), /export AWS_ACCESS_KEY_ID=ASIADEMO/);
  assert.match(await a.page.locator('[data-testid=countdown]').textContent(), /^(29|30) min \d\d s left$/);

  await a.page.goto(`${BASE_URL}${path}`);
  assert.equal(await a.page.locator('[data-testid=credentials]').count(), 0, 'shown once');
  await a.page.click('[data-testid=revoke]');
  await a.page.waitForSelector('[data-testid=access-status]:has-text("revoked")');

  // A second request: bob denies it with a reason.
  await a.page.goto(`${BASE_URL}/access`);
  await a.page.selectOption('[data-testid=request-form] select[name=environment]', 'taskflow-production');
  await a.page.selectOption('[data-testid=request-form] select[name=profile]', 'prod-readonly');
  await a.page.fill('[data-testid=request-form] input[name=reason]', 'one more look');
  await a.page.fill('[data-testid=request-form] input[name=ticket]', 'INC-272');
  await a.page.click('[data-testid=request]');
  await a.page.waitForURL(/\/access\/requests\/\d+$/);
  const second = new URL(a.page.url()).pathname;
  await b.page.goto(`${BASE_URL}${second}`);
  await b.page.fill('[data-testid=deny-form] input[name=comment]', 'not during the freeze');
  await b.page.click('[data-testid=deny-form] button[type=submit]');
  await b.page.waitForSelector('[data-testid=access-status]:has-text("denied")');
  assert.match(await b.page.locator('[data-testid=approvals]').textContent(), /bob deny.*not during the freeze/);
  await a.context.close();
  await b.context.close();
});

// ECS on moto, as the AWS SDK calls it (moto reads the service from the credential scope).
async function ecs(action, body) {
  const r = await fetch(process.env.MOTO_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AmazonEC2ContainerServiceV20141113.${action}`,
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20261130/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
  });
  assert.ok(r.ok, `${action}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

test('without JavaScript: a rollback asked by one person and confirmed by another', async () => {
  assert.ok(process.env.MOTO_URL, 'scripts/test.sh passes MOTO_URL');
  // A new revision of the seeded service is deployed, so that it has a previous one.
  const cluster = 'taskflow-production';
  const service = 'taskflow-api-production';
  const svc = (await ecs('DescribeServices', { cluster, services: [service] })).services[0];
  const td = (await ecs('DescribeTaskDefinition', { taskDefinition: svc.taskDefinition })).taskDefinition;
  const next = (await ecs('RegisterTaskDefinition', { family: td.family, containerDefinitions: td.containerDefinitions, cpu: td.cpu, memory: td.memory })).taskDefinition;
  await ecs('UpdateService', { cluster, service, taskDefinition: next.taskDefinitionArn });
  const from = `${td.family}:${next.revision}`;
  const to = `${td.family}:${td.revision}`;

  const a = await signIn(browser, 'alice', '/incidents?declare=1');
  await a.page.fill('[data-testid=declare-form] input[name=environment]', 'moto-taskflow');
  await a.page.fill('[data-testid=declare-form] input[name=title]', 'bad deploy, rolled back without JavaScript');
  await a.page.click('[data-testid=declare]');
  await a.page.waitForURL(/\/incidents\/\d+$/);
  const incident = new URL(a.page.url()).pathname;

  // The service page offers the previous revision once the console has read the new one.
  const page = `${BASE_URL}/env/moto-taskflow/services/${service}`;
  for (let i = 0; i < 40; i++) {
    await a.page.goto(page);
    if ((await a.page.locator('[data-testid=rollback]').textContent()).includes(`previous revision ${to}`)) break;
    await a.page.waitForTimeout(1000); // the inventory's ECS part is cached for 15 s
  }
  assert.match(await a.page.locator('[data-testid=rollback]').textContent(), new RegExp(`Running ${from}`));
  await a.page.fill('[data-testid=rollback] input[name=reason]', '5xx since the deploy');
  await a.page.click(`[data-testid=rollback] button:has-text("Roll back to ${to}")`);
  await a.page.waitForSelector('[data-testid=rollbacks] tr:has-text("pending")');

  const b = await signIn(browser, 'bob', incident);
  await b.page.click('[data-testid=rollbacks] button:has-text("Confirm rollback")');
  await b.page.waitForSelector('[data-testid=rollbacks] tr:has-text("confirmed by bob")');
  const now = (await ecs('DescribeServices', { cluster, services: [service] })).services[0];
  assert.ok(now.taskDefinition.endsWith(`/${to}`), `UpdateService to ${to}: ${now.taskDefinition}`);
  await a.context.close();
  await b.context.close();
});
