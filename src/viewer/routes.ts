/**
 * The viewer (HTTP only): `/` lists the slides, `/view/{slideId}` opens one in OpenSeadragon
 * with its mask overlay. Pages are rendered by pages.ts; the client code (public/) and
 * OpenSeadragon's build (from its npm package) are served from here, so nothing comes from a CDN.
 */
import express, { type Router, type Response } from 'express';
import { createRouter } from '../http/router.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { slideSummary } from '../catalogue/view.js';
import type { Generation } from '../generation.js';
import { ASSETS_PATH, OSD_PATH, renderSlideList, renderViewer } from './pages.js';
import { VIEWER_CSP } from './html.js';

export interface ViewerDeps {
  current(): Generation;
}

/** public/ sits next to this module in src/ and in dist/ (the build copies it). */
const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'public');
/** The dataset has 73 slides; a page of this many stays a few hundred KB of HTML. */
const LIST_LIMIT = 1000;

export function viewerRoutes(deps: ViewerDeps): Router {
  const r = createRouter();
  // The package's main file is build/openseadragon/openseadragon.js: its folder is the whole build.
  const osdDir = dirname(createRequire(import.meta.url).resolve('openseadragon'));
  r.use(ASSETS_PATH, express.static(PUBLIC_DIR, { index: false, fallthrough: true }));
  r.use(OSD_PATH, express.static(osdDir, { index: false, maxAge: '1d', fallthrough: true }));

  r.get('/', (_req, res) => {
    const g = deps.current();
    const { rows, total } = g.catalogue.listSlides({ classValues: null, status: null, limit: LIST_LIMIT, offset: 0 });
    const areas = g.catalogue.classAreas(rows.map((s) => s.id));
    const slides = rows.map((s) =>
      slideSummary(
        s,
        areas.filter((a) => a.slide_id === s.id),
        g.taxonomy,
      ),
    );
    sendPage(res, renderSlideList({ datasetName: datasetName(g), slides, total }));
  });

  r.get('/view/:slideId', (req, res) => {
    const g = deps.current();
    const s = g.slide(req.params.slideId);
    const slide = slideSummary(s, g.catalogue.classAreas([s.id]), g.taxonomy);
    const legend = g.taxonomy.map((c) => ({ value: c.value, name: c.name, category: c.category, color: c.color }));
    sendPage(res, renderViewer({ datasetName: datasetName(g), slide, legend }));
  });

  return r;
}

/** Pages are cheap and change with the code as well as the index: always revalidate, no ETag. */
function sendPage(res: Response, html: string): void {
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Content-Security-Policy', VIEWER_CSP);
  res.setHeader('Referrer-Policy', 'same-origin');
  res.type('html').send(html);
}

function datasetName(g: Generation): string {
  return g.catalogue.datasetInfo().name ?? 'Slides';
}
