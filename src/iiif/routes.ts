/**
 * IIIF endpoints (HTTP only): the Image API 3.0 at /iiif/3/{identifier} (slides, `~mask`,
 * `~overlay`), a Presentation 3 manifest per slide and a collection of them. Parameters are
 * parsed and the output size resolved before the ETag check, so a 304 costs no pixels.
 */
import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { SlideRow } from '../catalogue/repo.js';
import type { Generation } from '../generation.js';
import { IMMUTABLE_CACHE, REVALIDATE_CACHE, notModified, sendImage } from '../http/cache.js';
import { KIND_SUFFIX, infoJson, manifestJson, PRESENTATION_CONTEXT } from './info.js';
import {
  canonical,
  outputSize,
  parseQualityFormat,
  parseRegion,
  parseRotation,
  parseSize,
  regionRect,
} from './params.js';
import { checkKind, type IiifService, type ResolvedRequest } from './service.js';

export interface IiifRouteDeps {
  current(): Generation;
  iiif: IiifService;
  /** Largest output width x height (the info.json's maxArea). */
  maxArea: number;
  /** Which decoder renders regions: part of every rendered image's ETag (see SlidePool.renderer). */
  renderer: string;
}

const CONTENT_TYPES = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;
const LEVEL2_PROFILE = 'http://iiif.io/api/image/3/level2.json';
const LEVEL0_PROFILE = 'http://iiif.io/api/image/3/level0.json';
/** The collection lists at most this many slides (the dataset has 73). */
const COLLECTION_LIMIT = 10_000;

export function iiifRoutes(deps: IiifRouteDeps): Router {
  const r = Router({ caseSensitive: true, strict: true });

  r.get('/iiif/3/collection.json', (req, res) => {
    const g = deps.current();
    const base = origin(req);
    const { rows } = g.catalogue.listSlides({ classValues: null, status: null, limit: COLLECTION_LIMIT, offset: 0 });
    if (notModified(req, res, `${g.datasetVersion}-iiifc-${digest(base)}`, REVALIDATE_CACHE)) return;
    const items = rows.map((s) => ({
      id: `${base}/slides/${s.id}/manifest.json`,
      type: 'Manifest',
      label: { none: [s.file_name] },
    }));
    const collection = {
      '@context': PRESENTATION_CONTEXT,
      id: `${base}/iiif/3/collection.json`,
      type: 'Collection',
      label: { none: [datasetName(g)] },
      items,
    };
    sendJson(req, res, collection, PRESENTATION_CONTEXT);
  });

  r.get('/iiif/3/:identifier', (req, res) => {
    const g = deps.current();
    const { slide, kind } = deps.iiif.identify(g, req.params.identifier);
    res.redirect(303, `/iiif/3/${slide.id}${KIND_SUFFIX[kind]}/info.json`);
  });

  r.get('/iiif/3/:identifier/info.json', (req, res) => {
    const g = deps.current();
    const { slide: s, kind } = deps.iiif.identify(g, req.params.identifier);
    const base = origin(req);
    const id = `${base}/iiif/3/${s.id}${KIND_SUFFIX[kind]}`;
    res.setHeader('Vary', 'Accept');
    if (notModified(req, res, `${s.etag}-iiifi-${kind}-${digest(base)}`, IMMUTABLE_CACHE)) return;
    const tileSize = s.tile_width === s.tile_height ? s.tile_width : 256;
    const info = infoJson({
      id,
      kind,
      width: s.width,
      height: s.height,
      levels: deps.iiif.levels(g, s),
      tileSize,
      maxArea: deps.maxArea,
      mppX: s.mpp_x,
      manifest: `${base}/slides/${s.id}/manifest.json`,
    });
    res.setHeader('Link', `<${kind === 'image' ? LEVEL2_PROFILE : LEVEL0_PROFILE}>;rel="profile"`);
    sendJson(req, res, info, 'http://iiif.io/api/image/3/context.json');
  });

  r.get('/iiif/3/:identifier/:region/:size/:rotation/:file', async (req, res) => {
    const g = deps.current();
    const { slide: s, kind } = deps.iiif.identify(g, req.params.identifier);
    const resolved = resolve(req, s, deps.maxArea);
    checkKind(kind, resolved);
    const path = canonical(resolved.rect, resolved.size, resolved.rotation, resolved.quality, resolved.format);
    const base = `${origin(req)}/iiif/3/${s.id}${KIND_SUFFIX[kind]}`;
    res.setHeader(
      'Link',
      `<${base}/${path}>;rel="canonical", <${kind === 'image' ? LEVEL2_PROFILE : LEVEL0_PROFILE}>;rel="profile"`,
    );
    // No commas in an ETag: If-None-Match lists are comma-separated.
    const etag = `${s.etag}-iiif${kind === 'image' ? deps.renderer : ''}-${kind}-${path.replace(/\//g, '_').replace(/,/g, '.')}`;
    if (notModified(req, res, etag, IMMUTABLE_CACHE)) return;
    const out = await deps.iiif.render(g, s, kind, resolved);
    sendImage(res, out.body, CONTENT_TYPES[resolved.format]);
  });

  r.get('/slides/:slideId/manifest.json', (req, res) => {
    const g = deps.current();
    const s = g.slide(req.params.slideId);
    const base = origin(req);
    if (notModified(req, res, `${s.etag}-iiifm-${digest(base)}`, REVALIDATE_CACHE)) return;
    const manifest = manifestJson({
      id: `${base}/slides/${s.id}/manifest.json`,
      iiifBase: `${base}/iiif/3`,
      slideId: s.id,
      label: s.file_name,
      width: s.width,
      height: s.height,
      mppX: s.mpp_x,
      labelled: s.label_levels !== null,
      metadata: [
        { label: 'Slide id', value: s.id },
        { label: 'Size', value: `${s.width} x ${s.height} px` },
        ...(s.mpp_x !== null ? [{ label: 'Resolution', value: `${Number(s.mpp_x.toPrecision(4))} µm/px` }] : []),
        { label: 'Dataset', value: `${datasetName(g)} ${g.datasetVersion}` },
      ],
    });
    sendJson(req, res, manifest, PRESENTATION_CONTEXT);
  });

  return r;
}

/** Region, size, rotation and quality.format of a request, resolved against the image (400/501 on bad input). */
function resolve(req: Request, s: SlideRow, maxArea: number): ResolvedRequest {
  const p = req.params as Record<string, string>;
  const region = parseRegion(p.region ?? '');
  const size = parseSize(p.size ?? '');
  const rotation = parseRotation(p.rotation ?? '');
  const { quality, format } = parseQualityFormat(p.file ?? '');
  const rect = regionRect(region, s.width, s.height);
  // Rotation by 90s only swaps the sides: the area bound holds either way.
  return { rect, size: outputSize(size, rect.w, rect.h, { maxArea }), rotation, quality, format };
}

/** JSON-LD when the client asks for it (the spec's content negotiation), plain JSON otherwise. */
function sendJson(req: Request, res: Response, body: unknown, context: string): void {
  const ld = /application\/ld\+json/.test(req.headers.accept ?? '');
  res.setHeader('Vary', 'Accept');
  res.type(ld ? `application/ld+json;profile="${context}"` : 'application/json').send(JSON.stringify(body));
}

/**
 * The absolute origin the client used: IIIF ids are absolute URIs. Only a well-formed Host is
 * echoed; anything else becomes localhost, so a forged header cannot put markup in a document.
 */
export function origin(req: Request): string {
  const host = req.get('host') ?? '';
  return `${req.protocol}://${/^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/.test(host) ? host : 'localhost'}`;
}

/** Documents name their origin: ETags differ by origin so a cache never hands one origin's ids to another. */
function digest(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

function datasetName(g: Generation): string {
  return g.catalogue.datasetInfo().name ?? 'Slides';
}
