import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '../../src/http/types.js';
import { serveDemo, type Served } from '../support/app-fixture.js';
import { HAS_CHROMIUM, changedFraction, browserSession, stableShot, type Shot } from '../support/browser.js';

type Summary = Schemas['SlideSummary'];

let s: Served;
let slides: Summary[];
/** The readable slide with the most labelled classes: the one the browser opens. */
let target: Summary;

beforeAll(async () => {
  s = await serveDemo();
  slides = (await request(s.app).get('/slides?limit=1000')).body.items as Summary[];
  target = slides.filter((x) => x.status === 'ok').sort((a, b) => b.classes.length - a.classes.length)[0]!;
});
afterAll(() => s?.cleanup());

const page = (url: string) => request(s.app).get(url);
const esc = (t: string) =>
  t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

describe('GET /', () => {
  it('lists every slide by its escaped name; readable ones link to the viewer and show a thumbnail', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(target.classes.length).toBeGreaterThan(0);
    for (const x of slides) {
      expect(res.text).toContain(`data-slide="${esc(x.id)}"`);
      expect(res.text).toContain(esc(x.name));
      if (x.status === 'ok') {
        expect(res.text).toContain(`href="/view/${x.id}"`);
        expect(res.text).toContain(`src="/slides/${x.id}/thumbnail.jpeg?maxSize=320"`);
      } else {
        expect(res.text).toContain(esc(x.statusReason ?? ''));
      }
    }
    for (const c of target.classes) expect(res.text).toContain(`background:${c.color}`);
  });

  it('every thumbnail it shows answers with a JPEG', async () => {
    const urls = [...(await page('/')).text.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    expect(urls.length).toBe(slides.filter((x) => x.status === 'ok').length);
    for (const u of urls) {
      const res = await page(u);
      expect([u, res.status, res.headers['content-type']]).toEqual([u, 200, 'image/jpeg']);
    }
  });
});

describe('GET /view/{slideId}', () => {
  it('has OpenSeadragon, the legend with every class and its area, and the mpp', async () => {
    const res = await page(`/view/${target.id}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<script src="/viewer/osd/openseadragon.min.js"></script>');
    const detail = (await page(`/slides/${target.id}`)).body as Schemas['Slide'];
    for (const c of detail.legend.filter((x) => x.value !== 0))
      expect(res.text).toContain(`data-class="${esc(c.name)}"`);
    for (const c of target.classes)
      expect(res.text).toMatch(new RegExp(`data-class="${c.name}">.*?<span class="area">[^<—]+</span>`));
    const config = JSON.parse(
      /<script type="application\/json" id="viewer-config">(.*?)<\/script>/.exec(res.text)![1]!,
    );
    expect(config).toMatchObject({
      slideId: target.id,
      imageDzi: `/slides/${target.id}/image.dzi`,
      maskDzi: `/slides/${target.id}/mask.dzi`,
      mpp: target.mpp?.x ?? null,
    });
    if (target.mpp) expect(res.text).toContain(`${Number(target.mpp.x.toPrecision(3))} µm/px`);
  });

  it.each(['nope', 'UPPER', '..%2F..%2Fetc%2Fpasswd'])('%s -> 404 problem', async (id) => {
    const res = await page(`/view/${id}`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('SLIDE_NOT_FOUND');
  });
});

describe('static assets', () => {
  it.each([
    ['/viewer/assets/viewer.js', /^(text|application)\/javascript/],
    ['/viewer/assets/viewer.css', /^text\/css/],
    ['/viewer/osd/openseadragon.min.js', /^(text|application)\/javascript/],
    ['/viewer/osd/images/zoomin_rest.png', /^image\/png/],
  ])('%s', async (url, type) => {
    const res = await page(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(type);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each(['/viewer/assets/nope.js', '/viewer/assets/%2e%2e%2froutes.ts', '/viewer/osd/%2e%2e%2fpackage.json'])(
    '%s -> 404 problem',
    async (url) => {
      const res = await page(url);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    },
  );
});

/** OpenSeadragon's buttons and navigator fade in and out with the mouse: compare only what is drawn. */
const OSD_CONTROLS_HIDDEN =
  '#osd .openseadragon-container > :not(.openseadragon-canvas) { visibility: hidden !important; }';

describe.skipIf(!HAS_CHROMIUM)('in headless Chromium (/usr/bin/chromium is not installed: .ci/run installs it)', () => {
  const browser = browserSession(() => s.app);
  const { responses, failed, errors } = browser;
  /** The settled viewer with the overlay fully opaque, and with no overlay at all. */
  let overlayOn: Shot;
  let overlayOff: Shot;

  const tiles = (kind: 'image' | 'mask') =>
    responses.filter((r) => r.url.pathname.startsWith(`/slides/${target.id}/${kind}_files/`));
  const osd = () => browser.page.locator('#osd');
  const drawn = () => stableShot(osd(), OSD_CONTROLS_HIDDEN);
  const ready = (classes: string) =>
    browser.page.waitForSelector(`body[data-slide="ready"][data-overlay="ready"][data-overlay-classes="${classes}"]`, {
      timeout: 20_000,
    });

  it('the list links to the viewer, which draws the slide and the overlay from tiles', async () => {
    await browser.page.goto(`${browser.base}/`);
    expect(await browser.page.locator('.slide-card').count()).toBe(slides.length);
    await browser.page.locator(`.slide-card[data-slide="${target.id}"] h2 a`).click();
    await ready('all');
    expect(new URL(browser.page.url()).pathname).toBe(`/view/${target.id}`);
    expect(tiles('image').filter((r) => r.status === 200 && r.url.pathname.endsWith('.jpeg')).length).toBeGreaterThan(
      0,
    );
    // OpenSeadragon carried the DZI's query string onto the tile URLs.
    const masks = tiles('mask');
    expect(masks.length).toBeGreaterThan(0);
    expect(
      masks.every(
        (r) => r.status === 200 && r.url.searchParams.get('style') === 'color' && !r.url.searchParams.has('classes'),
      ),
    ).toBe(true);
  });

  it('draws the overlay; opacity changes it without fetching a tile', async () => {
    await browser.page.locator('#opacity').fill('100');
    overlayOn = await drawn();
    const before = tiles('mask').length;
    await browser.page.locator('#opacity').fill('0');
    overlayOff = await drawn();
    expect(changedFraction(overlayOn, overlayOff)).toBeGreaterThan(0.02);
    expect(tiles('mask').length).toBe(before);
    await browser.page.locator('#opacity').fill('100');
    expect(changedFraction(overlayOn, await drawn())).toBeLessThan(0.002);
  });

  it('toggling a class off redraws without it, from tiles asking for the other classes', async () => {
    const largest = [...target.classes].sort((a, b) => b.areaPx - a.areaPx)[0]!;
    const all = await browser.page
      .locator('input.toggle-class')
      .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    const rest = all.filter((n) => n !== largest.name).join(',');
    await browser.page.locator(`input.toggle-class[value="${largest.name}"]`).uncheck();
    await ready(rest);
    const asked = tiles('mask').filter((r) => r.url.searchParams.get('classes') === rest);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.status === 200)).toBe(true);
    const without = await drawn();
    expect(changedFraction(overlayOn, without)).toBeGreaterThan(0.005);
    // The other classes are still drawn (when the slide has any).
    if (target.classes.length > 1) expect(changedFraction(overlayOff, without)).toBeGreaterThan(0.0005);
    const category = browser.page.locator(`input.toggle-category[value="${largest.category}"]`);
    const siblings = all.filter((n) =>
      target.classes.some((c) => c.name === n && c.category === largest.category),
    ).length;
    expect(await category.evaluate((e) => (e as unknown as { indeterminate: boolean }).indeterminate)).toBe(
      siblings > 1,
    );
  });

  it('categories toggle their classes: all off draws the slide alone, one on brings its classes back', async () => {
    // A half-checked category checks all its classes on the first click (as checkboxes do), so: on, then off.
    for (const box of await browser.page.locator('input.toggle-category').all()) {
      await box.setChecked(true);
      await box.setChecked(false);
    }
    await ready('');
    expect(await browser.page.locator('input.toggle-class:checked').count()).toBe(0);
    expect(changedFraction(overlayOff, await drawn())).toBeLessThan(0.002);
    const category = target.classes[0]!.category!;
    await browser.page.locator(`input.toggle-category[value="${category}"]`).check();
    const names = await browser.page
      .locator(`input.toggle-class:checked`)
      .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    await ready(names.join(','));
    expect(names.length).toBeGreaterThan(0);
    expect(changedFraction(overlayOff, await drawn())).toBeGreaterThan(0.001);
  });

  it('the tissue toggle draws the detected tissue from layer=tissue tiles, and takes it away again', async () => {
    await browser.page.locator('#opacity').fill('100');
    const before = await drawn();
    const askedBefore = tiles('mask').filter((r) => r.url.searchParams.get('layer') === 'tissue').length;
    expect(askedBefore).toBe(0);
    await browser.page.locator('#toggle-tissue').check();
    await browser.page.waitForSelector('body[data-tissue="ready"]', { timeout: 20_000 });
    const asked = tiles('mask').filter((r) => r.url.searchParams.get('layer') === 'tissue');
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.status === 200 && r.url.searchParams.get('style') === 'color')).toBe(true);
    const withTissue = await drawn();
    expect(changedFraction(before, withTissue)).toBeGreaterThan(0.01);
    await browser.page.locator('#toggle-tissue').uncheck();
    await browser.page.waitForSelector('body[data-tissue="off"]');
    expect(changedFraction(before, await drawn())).toBeLessThan(0.002);
  });

  it('shows a scale bar of a round length that matches the zoom', async () => {
    if (target.mpp === null) return;
    const scale = async () => {
      await browser.page.waitForTimeout(50);
      const um = Number(await browser.page.locator('#scalebar').getAttribute('data-um'));
      const box = await browser.page.locator('#scalebar .scalebar-bar').boundingBox();
      const pxPerL0 = await browser.page.evaluate<number>(
        'viewer.world.getItemAt(0).viewportToImageZoom(viewer.viewport.getZoom(true))',
      );
      return {
        um,
        width: box!.width,
        expected: (um * pxPerL0) / target.mpp!.x,
        text: await browser.page.locator('#scalebar .scalebar-label').textContent(),
      };
    };
    const fit = await scale();
    expect(fit.text).toMatch(/^(10|20|50|100|200|500) µm$|^[125] mm$/);
    expect(Math.abs(fit.width - fit.expected)).toBeLessThan(1);
    await browser.page.evaluate('viewer.viewport.zoomBy(8, undefined, true)');
    const zoomed = await scale();
    expect(zoomed.um).toBeLessThan(fit.um);
    expect(Math.abs(zoomed.width - zoomed.expected)).toBeLessThan(1);
  });

  it('no request failed, none was answered with an error, none left this origin, no script error', () => {
    expect(failed).toEqual([]);
    expect(responses.filter((r) => r.status >= 400).map((r) => `${r.status} ${r.url.href}`)).toEqual([]);
    expect(
      responses
        .filter((r) => r.url.origin !== browser.base && r.url.protocol !== 'data:' && r.url.protocol !== 'blob:')
        .map((r) => r.url.href),
    ).toEqual([]);
    expect(errors).toEqual([]);
  });
});
