import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, BrowserContext, Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/server/app.js';
import { writeColourGallery, writeSolid } from './helpers.js';

const CHROMIUM = process.env['VISID_CHROMIUM'] ?? '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set VISID_CHROMIUM)`;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const DEEPFACE = path.resolve(process.env['VISID_SHARED'] ?? path.join(REPO, '../shared'), 'data', 'faces-deepface');

let dir: string;
let app: FastifyInstance;
let base: string;
let context: BrowserContext;
let page: Page;

before(async () => {
  if (SKIP) return;
  dir = mkdtempSync(path.join(tmpdir(), 'visid-web-'));
  await writeColourGallery(dir);
  await writeSolid(path.join(dir, 'query.png'), [200, 20, 30]);
  await mkdir(path.join(dir, 'reports'), { recursive: true });
  await writeFile(path.join(dir, 'reports', 'eval-colours.html'), '<!doctype html><title>eval</title><h1>Evaluation of colours</h1>');
  app = await buildServer({ galleries: [path.join(dir, 'colours')], token: 'web-token', reportsDir: path.join(dir, 'reports') });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  mkdirSync(ARTIFACTS, { recursive: true });
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Waits are generous (a loaded 2-core machine is several times slower); nothing here asserts how long a step took.
  context.setDefaultTimeout(90_000);
  page = await context.newPage();
  await page.goto(base);
});

after(async () => {
  await context?.close();
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('search: upload a query, see the grid with the expected top result', { skip: SKIP }, async () => {
  await page.locator('#query-file').setInputFiles(path.join(dir, 'query.png'));
  await page.getByRole('button', { name: 'Search', exact: true }).last().click();
  await page.locator('#results li').first().waitFor();
  const first = await page.locator('#results li').first().innerText();
  assert.match(first, /^1\. red/);
  assert.equal(await page.locator('#results li').count(), 4);
  assert.equal(await page.locator('#query-view').isVisible(), true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-search.png'), fullPage: true });
});

test('unique-label mode: one result per label', { skip: SKIP }, async () => {
  await page.getByLabel('One result per label').check();
  await page.waitForFunction("document.querySelectorAll('#results li').length === 3");
  const labels = await page.locator('#results li .label').allInnerTexts();
  assert.deepEqual(labels.map((l) => l.replace(/^\d+\. /, '')).sort(), ['blue', 'green', 'red']);
  assert.match(labels[0]!, /red/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-unique-labels.png'), fullPage: true });
});

test('gallery browser shows the items with their labels', { skip: SKIP }, async () => {
  await page.getByRole('button', { name: 'Gallery' }).click();
  await page.waitForFunction("document.querySelectorAll('#items li').length === 4");
  assert.match(await page.locator('#page-info').innerText(), /1–4 of 4/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-gallery.png'), fullPage: true });
});

test('verify two face photos', { skip: SKIP || (existsSync(DEEPFACE) ? false : `no shared face data at ${DEEPFACE}`) }, async () => {
  await page.getByRole('button', { name: 'Verify faces' }).click();
  await page.locator('#verify-a').setInputFiles(path.join(DEEPFACE, 'img1.jpg'));
  await page.locator('#verify-b').setInputFiles(path.join(DEEPFACE, 'img2.jpg'));
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.waitForFunction("/score/.test(document.querySelector('#verify-result')?.textContent ?? '')", undefined, { timeout: 180_000 });
  assert.match(await page.locator('#verify-result').innerText(), /^Same person — score 0\.\d{4}/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-verify.png'), fullPage: true });
});

test('reports are listed on the page and open', { skip: SKIP }, async () => {
  await page.getByRole('button', { name: 'Reports' }).click();
  const link = page.getByRole('link', { name: 'eval-colours.html' });
  await link.waitFor();
  const [report] = await Promise.all([context.waitForEvent('page'), link.click()]);
  await report.waitForLoadState();
  assert.equal(await report.locator('h1').innerText(), 'Evaluation of colours');
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-reports.png'), fullPage: true });
  await report.close();
});

test('gallery page: adding an image needs the token and shows up in the browser', { skip: SKIP }, async () => {
  await page.getByRole('button', { name: 'Gallery' }).click();
  await writeSolid(path.join(dir, 'yellow.png'), [240, 240, 10]);
  await page.locator('#add-files').setInputFiles(path.join(dir, 'yellow.png'));
  await page.locator('#add-label').fill('yellow');
  await page.locator('#add-token').fill('wrong');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.waitForFunction("/token/.test(document.querySelector('#add-status')?.textContent ?? '')");
  await page.locator('#add-token').fill('web-token');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.waitForFunction("/Added 1/.test(document.querySelector('#add-status')?.textContent ?? '')");
  await page.waitForFunction("document.querySelectorAll('#items li').length === 5");
  assert.ok((await page.locator('#items li .label').allInnerTexts()).includes('yellow'));
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-add.png'), fullPage: true });
});
