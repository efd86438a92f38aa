/**
 * IIIF clients in a real headless Chromium: OpenSeadragon's IIIF tile source on a slide's
 * info.json (with its label overlay as a second image), and Mirador (from its npm package, served
 * by the service) on the slide's Presentation manifest. Tiles must be drawn, and no request may
 * fail, be answered with an error or leave the service's origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDemo, type Served } from '../support/app-fixture.js';
import { HAS_CHROMIUM, browserSession, stableShot, type Shot } from '../support/browser.js';

const ID = 'tumor_001';
let s: Served;

beforeAll(async () => {
  s = await serveDemo();
});
afterAll(() => s?.cleanup());

/** Share of pixels that are not near-white glass or near-black background: tissue was drawn. */
function drawnShare(shot: Shot): number {
  let n = 0;
  for (let i = 0; i < shot.rgb.length; i += 3) {
    const [r, g, b] = [shot.rgb[i]!, shot.rgb[i + 1]!, shot.rgb[i + 2]!];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 25) n++;
  }
  return n / (shot.width * shot.height);
}

describe.skipIf(!HAS_CHROMIUM)(
  'IIIF viewers in headless Chromium (/usr/bin/chromium is not installed: .ci/run installs it)',
  () => {
    const browser = browserSession(() => s.app);
    const { responses, failed, errors } = browser;
    const iiif = (suffix = '', from = 0) =>
      responses
        .slice(from)
        .filter((r) => r.url.pathname.startsWith(`/iiif/3/${ID}${suffix}/`) && !r.url.pathname.endsWith('/info.json'));

    it('OpenSeadragon opens info.json as an IIIF tile source and draws the slide and its overlay', async () => {
      // A bare test page on the service's origin: OpenSeadragon's build as the viewer serves it.
      const html = `<!doctype html><html><body style="margin:0"><div id="osd" style="width:800px;height:600px"></div>
<script src="/viewer/osd/openseadragon.min.js"></script>
<script>
  window.viewer = OpenSeadragon({ id: 'osd', prefixUrl: '/viewer/osd/images/', showNavigationControl: false,
    tileSources: ['/iiif/3/${ID}/info.json', { tileSource: '/iiif/3/${ID}~overlay/info.json', opacity: 0.6 }] });
</script></body></html>`;
      await browser.page.route(`${browser.base}/osd-iiif-test.html`, (r) =>
        r.fulfill({ body: html, contentType: 'text/html' }),
      );
      await browser.page.goto(`${browser.base}/osd-iiif-test.html`);
      await browser.page.waitForFunction(
        'viewer.world.getItemCount() === 2 && viewer.world.getItemAt(0).getFullyLoaded() && viewer.world.getItemAt(1).getFullyLoaded()',
        undefined,
        { timeout: 30_000 },
      );
      const shot = await stableShot(browser.page.locator('#osd'));
      expect(drawnShare(shot)).toBeGreaterThan(0.05);
      const tiles = iiif();
      expect(tiles.length).toBeGreaterThan(0);
      expect(tiles.every((r) => r.status === 200 && r.url.pathname.endsWith('/0/default.jpg'))).toBe(true);
      // The overlay's tiles are png (its info.json prefers png).
      expect(iiif('~overlay').length).toBeGreaterThan(0);
      expect(iiif('~overlay').every((r) => r.status === 200 && r.url.pathname.endsWith('/0/default.png'))).toBe(true);
    });

    it("Mirador opens the slide's manifest, draws tiles and lists the label layers", async () => {
      const start = responses.length;
      await browser.page.goto(`${browser.base}/viewer/mirador/${ID}`);
      await browser.page.waitForSelector('.openseadragon-canvas canvas', { timeout: 30_000 });
      await browser.page.waitForFunction(
        (n) =>
          performance
            .getEntriesByType('resource')
            .filter((e) => /\/iiif\/3\/[^/]+\/[^/]+\/[^/]+\/0\/default\.jpg$/.test(e.name)).length > n,
        0,
        { timeout: 30_000 },
      );
      const shot = await stableShot(browser.page.locator('.openseadragon-canvas').first());
      expect(drawnShare(shot)).toBeGreaterThan(0.05);
      expect(iiif('', start).length).toBeGreaterThan(0);
      expect(responses.some((r) => r.url.pathname === `/slides/${ID}/manifest.json` && r.status === 200)).toBe(true);
      // The layers panel lists the slide and its two label layers; showing the overlay draws its tiles.
      await expect
        .poll(() => browser.page.getByText('Labels (colour overlay)').count(), { timeout: 10_000 })
        .toBeGreaterThan(0);
      expect(await browser.page.getByText('Labels (raw class values)').count()).toBeGreaterThan(0);
      const overlayTiles = () => iiif('~overlay', start).filter((r) => !r.url.pathname.includes('/full/'));
      expect(overlayTiles()).toEqual([]);
      await browser.page.getByRole('button', { name: 'Show layer' }).first().click();
      await expect.poll(() => overlayTiles().length, { timeout: 15_000 }).toBeGreaterThan(0);
      expect(overlayTiles().every((r) => r.status === 200 && r.url.pathname.endsWith('/0/default.png'))).toBe(true);
    });

    it('no request failed, none was answered with an error, none left this origin, no script error', () => {
      expect(failed).toEqual([]);
      expect(responses.filter((r) => r.status >= 400).map((r) => `${r.status} ${r.url.href}`)).toEqual([]);
      expect(
        responses
          .filter((r) => r.url.origin !== browser.base && r.url.protocol !== 'data:' && r.url.protocol !== 'blob:')
          .map((r) => r.url.href),
      ).toEqual([]);
      // Mirador's bundled React logs this deprecation of its own code; anything else is an error here.
      expect(errors.filter((e) => !e.startsWith('Accessing element.ref was removed in React 19'))).toEqual([]);
    });
  },
);
