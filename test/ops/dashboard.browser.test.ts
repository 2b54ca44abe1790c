import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userBody } from '../api/support.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

/**
 * The dashboard in a real browser (Debian's headless Chromium, driven by playwright-core; no
 * browser is ever downloaded): find the job a target rejected, fix the target, retry it from the
 * page, see it complete. Screenshots go to test-artifacts/ (gitignored). `.ci/run` installs
 * Chromium when it is missing; without it (a developer machine) this file is skipped, saying why.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const basic = `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}`;

describe.skipIf(!existsSync(CHROMIUM))(`dashboard in Chromium (${CHROMIUM})`, () => {
  let fx: BridgeFixture;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    fx = await startBridgeFixture('browser', {
      connection: { displayName: 'Acme HR' },
      config: { admin: { username: 'ops', password: PASSWORD, allow: { retry: true } } },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await fx?.close();
  });

  const jobState = async (jobId: string) => {
    const res = await fetch(`${fx.bridge.url}/admin/api/connections/acme/jobs/${jobId}`, { headers: { authorization: basic } });
    return ((await res.json()) as { state: string }).state;
  };

  it('refuses the dashboard without credentials', async () => {
    // Chromium turns a navigation answered by a Basic challenge into ERR_INVALID_AUTH_CREDENTIALS
    // when it has nothing to offer, so the statuses are read with the page's own fetch().
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${fx.bridge.url}/livez`);
    const statuses = await page.evaluate(async () =>
      Promise.all(['/admin/queues', '/admin/queues/api/queues', '/admin/api/connections'].map(async (path) => (await fetch(path, { credentials: 'omit' })).status)),
    );
    expect(statuses).toEqual([401, 401, 401]);
    await page.setContent(`<h1>GET /admin/queues without credentials: ${statuses[0]}</h1>`);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-401.png` });
    await context.close();
  }, 30_000);

  it('retries the job of a rejected user from the page, and it completes', async () => {
    // The target rejects the next account creation: the user's delivery fails for good.
    expect((await fx.legacy.send('POST', '/_faults', { status: 422, times: 1, match: 'POST /api/v1/accounts' })).status).toBe(204);
    const userName = `grace.${randomBytes(3).toString('hex')}@example.com`;
    const created = await fx.scim('POST', '/Users', userBody(userName));
    expect(created.status).toBe(201);
    const jobId = `User-${created.body.id}-r1`;
    expect(await eventually(async () => (await jobState(jobId)) === 'failed')).toBe(true);

    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: PASSWORD } });
    const page = await context.newPage();
    const response = await page.goto(`${fx.bridge.url}/admin/queues/queue/delivery-acme?status=failed`);
    expect(response?.status()).toBe(200);

    // The failed job, titled by the user's name, shows the target's answer.
    const title = page.getByText(`User ${userName} · r1`);
    await title.waitFor({ timeout: 15_000 });
    await page.getByText('GW_DELIVERY_REJECTED 422 POST /api/v1/accounts').first().waitFor({ timeout: 5_000 });
    await expect(page.getByText('Acme HR').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-failed-job.png`, fullPage: true });

    // The target is fixed (the fault was used up); retry from the job's card, and confirm.
    expect(((await fx.legacy.get('/_faults')) as { faults: unknown[] }).faults).toEqual([]);
    const card = page.locator('div', { has: page.getByText(jobId, { exact: true }) }).filter({ has: title }).last();
    await card.locator('button:has(svg.lucide-refresh-cw)').click();
    await page.getByRole('button', { name: 'Confirm' }).click();

    expect(await eventually(async () => (await jobState(jobId)) === 'completed')).toBe(true);
    const accounts = (await fx.legacy.get('/api/v1/accounts')) as { data: Array<{ login: string }> };
    expect(accounts.data.map((a) => a.login)).toContain(userName);

    await page.goto(`${fx.bridge.url}/admin/queues/queue/delivery-acme?status=completed`);
    await page.getByText(`User ${userName} · r1`).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-completed-job.png`, fullPage: true });
    await context.close();
  }, 60_000);
});
