/**
 * A real headless Chromium for browser tests: the Debian package (never a downloaded browser),
 * driven by playwright-core, with a fresh profile, plus screenshot comparison helpers.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type express from 'express';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM_PATH);

/** Flags for a quiet, offline-friendly headless run in a container (no sandbox, no GPU, no phoning home). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1200, height: 800 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What a browser session saw: every response, every failed request, every script error. */
export interface Traffic {
  responses: Array<{ url: URL; status: number }>;
  failed: string[];
  errors: string[];
}

/** Records a browser session's traffic into `t` (its arrays grow as the page works). */
export function recordTraffic(browser: Browser, t: Traffic): void {
  browser.context.on('response', (r) => t.responses.push({ url: new URL(r.url()), status: r.status() }));
  browser.context.on('requestfailed', (r) => t.failed.push(`${r.url()}: ${r.failure()?.errorText ?? '?'}`));
  browser.page.on('console', (m) => m.type() === 'error' && t.errors.push(m.text()));
  browser.page.on('pageerror', (e) => t.errors.push(e.message));
}

/** A headless Chromium session on `app()`, served on loopback: what the page saw, the page and the base URL. */
export interface BrowserSession extends Traffic {
  readonly page: Page;
  readonly base: string;
}

/**
 * Opens a browser session for the enclosing describe block (before its tests; closed after them),
 * with its traffic recorded. `app` is read when the block starts, after the file's own beforeAll.
 */
export function browserSession(
  app: () => express.Express,
  viewport?: { width: number; height: number },
): BrowserSession {
  let browser: Browser | undefined;
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  const traffic: Traffic = { responses: [], failed: [], errors: [] };
  beforeAll(async () => {
    server = await listen(app());
    browser = await launchBrowser(viewport);
    recordTraffic(browser, traffic);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  return {
    ...traffic,
    get page() {
      return browser!.page;
    },
    get base() {
      return server!.base;
    },
  };
}

/** The app on 127.0.0.1 at an ephemeral port (a real browser needs a real socket). */
export async function listen(app: express.Express): Promise<{ base: string; close(): Promise<void> }> {
  const server = createServer(app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Shot {
  width: number;
  height: number;
  rgb: Buffer;
  png: Buffer;
}

/**
 * A screenshot of `target` once drawing has settled: taken repeatedly until two in a row are
 * identical, so tiles still arriving never make a comparison flaky. `style` is CSS applied only
 * while shooting, to hide parts that change on their own (controls fading with the mouse).
 */
export async function stableShot(target: Locator, style = '', maxTries = 40, intervalMs = 150): Promise<Shot> {
  let previous: Buffer | null = null;
  // A change made just before the call reaches the screen on the next frame: let it start first.
  await new Promise((r) => setTimeout(r, intervalMs));
  for (let i = 0; i < maxTries; i++) {
    const png = await target.screenshot({ style });
    if (previous !== null && png.equals(previous)) return decode(png);
    previous = png;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`the screenshot did not settle within ${maxTries} tries`);
}

/** Fraction of pixels where any channel differs by more than `tolerance` (0-255). */
export function changedFraction(a: Shot, b: Shot, tolerance = 12): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error('screenshots of different sizes');
  let changed = 0;
  for (let i = 0; i < a.rgb.length; i += 3) {
    if (
      Math.abs(a.rgb[i]! - b.rgb[i]!) > tolerance ||
      Math.abs(a.rgb[i + 1]! - b.rgb[i + 1]!) > tolerance ||
      Math.abs(a.rgb[i + 2]! - b.rgb[i + 2]!) > tolerance
    )
      changed++;
  }
  return changed / (a.width * a.height);
}

async function decode(png: Buffer): Promise<Shot> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: data, png };
}
