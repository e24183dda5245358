// The dashboard in a real headless Chromium (Debian's `chromium` package), driven by playwright-core.
// Without /usr/bin/chromium the test is skipped, except in CI, where it must run.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '@breaker/core';
import { dashboard, type DashboardHandler } from '@breaker/dashboard';
import { circuitBreaker } from '@breaker/express';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SCREENSHOT = fileURLToPath(new URL('../../test-results/dashboard.png', import.meta.url));
const XSS = '<img src=x onerror=alert(1)>';
const ADMIN_COOKIE = 'breaker-admin=let-me-in';

const skip = !existsSync(CHROMIUM) && !process.env.CI;

describe.skipIf(skip)('the dashboard in Chromium', () => {
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let profile: string;
  const registry = new BreakerRegistry();
  // A full registry of keyed breakers, on its own dashboard.
  const many = new BreakerRegistry({ maxSize: 10_000, defaults: { failureThreshold: 2 } });
  const tenant = (i: number) => `tenant-${String(i).padStart(5, '0')}`;
  const handlers: DashboardHandler[] = [];
  let partnerUp = true;
  const problems: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.get(
      '/api/partner',
      circuitBreaker({ name: 'partner', registry, failureThreshold: 3, timeout: 60_000 }),
      (_req, res) => {
        if (partnerUp) res.json({ ok: true });
        else res.status(500).json({ error: 'partner down' });
      },
    );
    app.get('/api/tenant', circuitBreaker({ name: XSS, registry }), (_req, res) => {
      res.json({ ok: true });
    });
    const viewer = dashboard({ registry });
    const admin = dashboard({
      registry,
      admin: { authorize: (req) => (req.headers.cookie ?? '').split('; ').includes(ADMIN_COOKIE) },
    });
    for (let i = 0; i < 10_000; i++) many.get(tenant(i));
    const crowded = dashboard({ registry: many });
    handlers.push(viewer, admin, crowded);
    app.use('/many/breakers', crowded);
    app.use('/breakers', viewer);
    app.use('/admin/breakers', admin);
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    profile = mkdtempSync(join(tmpdir(), 'breaker-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      viewport: { width: 1280, height: 720 },
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    for (const handler of handlers) handler.close();
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  async function openPage(path: string): Promise<{ page: Page; navigations: () => number }> {
    const page = await context.newPage();
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    page.on('console', (message) => {
      // The refused reset below is logged by the browser as a failed load; nothing else may be.
      if (message.text().includes('status of 403')) return;
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${base}${path}`);
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toMatch(/^Live/);
    return { page, navigations: () => navigations };
  }

  /** The row of the breaker named `name`: found by its text, whatever the name holds. */
  const row = (page: Page, name: string) =>
    page.locator('#rows tr').filter({ has: page.locator('th.name').getByText(name, { exact: true }) });

  const stateOn = (page: Page, name: string) => row(page, name).locator('.badge').textContent();

  async function hit(path: string, times = 1): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) statuses.push((await fetch(`${base}${path}`)).status);
    return statuses;
  }

  it('shows a breaker opening under real traffic without a reload, with no admin buttons', async () => {
    expect(await hit('/api/partner', 2)).toEqual([200, 200]);
    const { page, navigations } = await openPage('/breakers/');
    await expect.poll(() => stateOn(page, 'partner'), { timeout: 10_000 }).toBe('closed');

    partnerUp = false;
    expect(await hit('/api/partner', 4)).toEqual([500, 500, 500, 503]);
    await expect.poll(() => stateOn(page, 'partner'), { timeout: 10_000 }).toBe('open');
    expect(navigations()).toBe(1);
    expect(await row(page, 'partner').getAttribute('class')).toBe('state-open');
    // The failure rate and the time to half-open come with it, and the sparkline fills in.
    await expect.poll(() => row(page, 'partner').locator('td.num').nth(0).textContent()).toBe('60.0 %');
    await expect
      .poll(() => row(page, 'partner').locator('td.num').nth(2).textContent(), { timeout: 5_000 })
      .toMatch(/^\d+ s$/);
    await expect
      .poll(() => row(page, 'partner').locator('path.failed').getAttribute('d'), { timeout: 5_000 })
      .toMatch(/^M[\d.]+,[\d.]+h/);
    expect(await row(page, 'partner').locator('ol.transitions li').first().textContent()).toContain(
      'closed → open (consecutive-failures)',
    );

    // Without `admin`, no button and no column for them.
    expect(await page.locator('#rows button').count()).toBe(0);
    expect(await page.locator('thead th').allTextContents()).not.toContain('Actions');
    await page.close();
  }, 30_000);

  it('shows a breaker whose name is markup as text, and runs none of it', async () => {
    const { page } = await openPage('/breakers/');
    expect(await hit('/api/tenant')).toEqual([200]);
    await expect.poll(() => stateOn(page, XSS), { timeout: 10_000 }).toBe('closed');
    expect(await row(page, XSS).locator('th.name').textContent()).toBe(XSS);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('[onerror]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.close();
  }, 30_000);

  it('resets a breaker from the page only for an authorised admin', async () => {
    expect(registry.get('partner').state).toBe('open');
    const { page, navigations } = await openPage('/admin/breakers/');
    await expect.poll(() => stateOn(page, 'partner'), { timeout: 10_000 }).toBe('open');
    const reset = row(page, 'partner').getByRole('button', { name: 'Reset' });
    expect(await row(page, 'partner').getByRole('button', { name: 'Force open' }).count()).toBe(1);

    // Without the admin cookie the server refuses, the page says so, and nothing changes.
    const refused = page.waitForResponse((res) => res.url().endsWith('/reset'));
    await reset.click();
    expect((await refused).status()).toBe(403);
    await expect.poll(() => page.locator('#message').textContent()).toMatch(/Could not reset partner: 403/);
    expect(registry.get('partner').state).toBe('open');
    expect(await stateOn(page, 'partner')).toBe('open');

    // A fetch from the page without the cookie is refused too; with it, the same click works.
    await context.addCookies([{ name: 'breaker-admin', value: 'let-me-in', url: base }]);
    const accepted = page.waitForResponse((res) => res.url().endsWith('/reset'));
    await reset.click();
    expect((await accepted).status()).toBe(200);
    await expect.poll(() => stateOn(page, 'partner'), { timeout: 10_000 }).toBe('closed');
    expect(registry.get('partner').state).toBe('closed');
    expect(navigations()).toBe(1);

    partnerUp = true;
    expect(await hit('/api/partner')).toEqual([200]);
    await row(page, 'partner').getByRole('button', { name: 'Force open' }).click();
    await expect.poll(() => stateOn(page, 'partner'), { timeout: 10_000 }).toBe('forced-open');
    expect(await hit('/api/partner')).toEqual([503]);

    await page.waitForTimeout(1_200); // one more update, so the sparklines show the last seconds
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    await page.close();
  }, 30_000);

  it('shows 10,000 breakers a hundred at a time, open first, and finds one by search', async () => {
    const down = () => Promise.reject(new Error('down'));
    for (const i of [7_777, 7_778]) {
      for (let n = 0; n < 2; n++)
        await many
          .get(tenant(i))
          .fire(down)
          .catch(() => {});
    }
    many.get(tenant(42)).forceOpen();
    const { page } = await openPage('/many/breakers/');
    const names = () => page.locator('#rows th.name').allTextContents();
    await expect
      .poll(() => page.locator('#summary').textContent(), { timeout: 10_000 })
      .toBe('10,000 breakers: 2 open, 1 forced-open, 9,997 closed');
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toMatch(/^Live(,|$)/);
    expect(await page.locator('#status').textContent()).not.toContain('loading');
    // By state, open first: the open ones, the forced-open one, then the closed ones by name.
    expect((await names()).slice(0, 4)).toEqual([tenant(7_777), tenant(7_778), tenant(42), tenant(0)]);
    expect(await page.locator('#rows tr').count()).toBe(100);
    expect(await page.locator('#shown').textContent()).toBe('Showing 100 of 10,000');

    // A breaker that opens now moves to the top, between those already open.
    for (let n = 0; n < 2; n++)
      await many
        .get(tenant(5_000))
        .fire(down)
        .catch(() => {});
    await expect.poll(async () => (await names())[0], { timeout: 5_000 }).toBe(tenant(5_000));
    expect(await stateOn(page, tenant(5_000))).toBe('open');
    expect(await page.locator('#summary').textContent()).toBe(
      '10,000 breakers: 3 open, 1 forced-open, 9,996 closed',
    );

    await page.locator('#more').click();
    await expect.poll(() => page.locator('#rows tr').count()).toBe(200);

    await page.locator('#search').fill('TENANT-0999');
    await expect.poll(() => page.locator('#rows tr').count()).toBe(10);
    expect(await names()).toEqual(Array.from({ length: 10 }, (_, i) => tenant(9_990 + i)));
    expect(await page.locator('#shown').textContent()).toBe('Showing 10 of 10 matching “TENANT-0999”');
    expect(await page.locator('#more').isHidden()).toBe(true);
    await page.locator('#search').fill('no such breaker');
    await expect.poll(() => page.locator('#rows tr').count()).toBe(0);
    expect(await page.locator('#empty').textContent()).toBe('No breaker matches the search.');

    await page.locator('#search').fill('');
    await page.locator('#sort').selectOption('name');
    await expect.poll(async () => (await names()).slice(0, 3)).toEqual([tenant(0), tenant(1), tenant(2)]);
    await page.locator('#sort').selectOption('state');
    await expect.poll(async () => (await names())[0]).toBe(tenant(5_000));
    await page.close();
  }, 30_000);

  it('logged no error, CSP violations included', () => {
    expect(problems).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
