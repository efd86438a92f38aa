/**
 * Catalogue endpoints: slides, one slide, thumbnails, classes, dataset (HTTP only: parsing,
 * caching headers, and calls into the repo and renderer).
 */
import { type Router, type Request } from 'express';
import { createRouter } from '../http/router.js';
import { LRUCache } from 'lru-cache';
import { selectClasses } from '../dataset/taxonomy.js';
import { AppError } from '../errors.js';
import { IMMUTABLE_CACHE, REVALIDATE_CACHE, notModified, sendImage } from '../http/cache.js';
import { enumParam, intParam, listParam } from '../http/params.js';
import type { Limiter } from '../http/limits.js';
import type { Schemas } from '../http/types.js';
import { renderThumbnail, type ImageFormat } from '../imaging/sharp.js';
import type { Generation } from '../generation.js';
import type { SlideRow } from './repo.js';
import { slideDetail, slideSummary } from './view.js';

export interface CatalogueDeps {
  current(): Generation;
  thumbnailMaxSize: number;
  limiter: Limiter;
  /**
   * Slides in an object store have no file for libvips to open: their thumbnails are rendered
   * from stored tiles (through the region renderer, which takes the limiter itself).
   */
  renderFromTiles?: (
    g: Generation,
    s: SlideRow,
    level: number,
    maxSize: number,
    out: { kind: 'encoded'; format: ImageFormat; quality: number },
  ) => Promise<Buffer>;
}

const THUMB_FORMATS: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
/** Thumbnails of the slide list: ~500 of 30 KB. */
const THUMB_CACHE_BYTES = 16 * 1024 * 1024;
const THUMB_QUALITY = 85;

export function catalogueRoutes(deps: CatalogueDeps): Router {
  const r = createRouter();
  const thumbs = new LRUCache<string, Buffer>({ maxSize: THUMB_CACHE_BYTES, sizeCalculation: (b) => b.length });

  r.get('/slides', (req, res) => {
    const g = deps.current();
    const selectors = [...listParam(req, 'class'), ...listParam(req, 'category')];
    let classValues: number[] | null = null;
    if (selectors.length > 0) {
      const { values, unknown } = selectClasses(g.taxonomy, selectors);
      if (unknown.length > 0)
        throw new AppError(400, 'UNKNOWN_CLASS', `not a class or category of the taxonomy: ${unknown.join(', ')}`);
      classValues = values;
    }
    const status =
      req.query.status === undefined ? null : enumParam(req, 'status', 'ok', ['ok', 'unsupported'] as const);
    const limit = intParam(req, 'limit', 100, 1, 1000);
    const offset = intParam(req, 'offset', 0, 0, 1_000_000);
    const { rows, total } = g.catalogue.listSlides({ classValues, status, limit, offset });
    const areas = g.catalogue.classAreas(rows.map((s) => s.id));
    const body: Schemas['SlideList'] = {
      items: rows.map((s) =>
        slideSummary(
          s,
          areas.filter((a) => a.slide_id === s.id),
          g.taxonomy,
        ),
      ),
      total,
      limit,
      offset,
      next: offset + rows.length < total ? nextUrl(req, offset + limit) : null,
    };
    if (notModified(req, res, `${g.datasetVersion}-${hashQuery(req)}`, REVALIDATE_CACHE)) return;
    res.json(body);
  });

  r.get('/slides/:slideId', (req, res) => {
    const g = deps.current();
    const s = g.slide(req.params.slideId);
    if (notModified(req, res, s.etag, REVALIDATE_CACHE)) return;
    res.json(
      slideDetail(s, g.catalogue.levels(s.id), g.catalogue.sources(s.id), g.catalogue.classAreas([s.id]), g.taxonomy),
    );
  });

  for (const format of Object.keys(THUMB_FORMATS) as ImageFormat[]) {
    r.get(`/slides/:slideId/thumbnail.${format}`, async (req, res) => {
      const g = deps.current();
      const s = g.readableSlide(req.params.slideId as string);
      const maxSize = intParam(req, 'maxSize', 512, 16, deps.thumbnailMaxSize);
      if (notModified(req, res, `${s.etag}-t${maxSize}`, IMMUTABLE_CACHE)) return;
      const key = `${s.etag}:${maxSize}:${format}`;
      let body = thumbs.get(key);
      if (!body) {
        // The smallest level still at least maxSize on its long side: no upsampling, least decoding.
        const levels = g.catalogue.levels(s.id);
        const level = [...levels].reverse().find((l) => Math.max(l.width, l.height) >= maxSize) ?? levels[0]!;
        const fromTiles = deps.renderFromTiles;
        body = fromTiles
          ? await fromTiles(g, s, level.level, maxSize, { kind: 'encoded', format, quality: THUMB_QUALITY })
          : await deps.limiter.run(() =>
              g.guardPixels(s.id, () => renderThumbnail(g.slidePath(s), level.ifd, maxSize, format, THUMB_QUALITY)),
            );
        thumbs.set(key, body);
      }
      sendImage(res, body, THUMB_FORMATS[format]);
    });
  }

  r.get('/classes', (req, res) => {
    const g = deps.current();
    if (notModified(req, res, g.datasetVersion, REVALIDATE_CACHE)) return;
    const totals = g.classTotals();
    const body: Schemas['ClassList'] = {
      items: g.taxonomy.map((c) => ({
        ...c,
        description: c.description ?? null,
        ...(totals.get(c.value) ?? { slides: 0, areaPx: 0, areaUm2: 0 }),
      })),
      categories: [...new Set(g.taxonomy.flatMap((c) => (c.category ? [c.category] : [])))],
    };
    res.json(body);
  });

  r.get('/dataset', (req, res) => {
    const g = deps.current();
    if (notModified(req, res, g.datasetVersion, REVALIDATE_CACHE)) return;
    const info = g.catalogue.datasetInfo();
    const body: Schemas['Dataset'] = {
      name: info.name ?? '',
      version: info.version ?? '',
      description: info.description ?? '',
      datasetVersion: g.datasetVersion,
      labelDownsample: Number(info.label_downsample ?? 0),
      updatedAt: info.updated_at ?? '',
      slides: g.catalogue.slideCount(),
      problems: g.catalogue.problems().map((p) => ({
        file: p.rel_path.split('/').pop() ?? p.rel_path,
        slideId: p.slide_id,
        code: p.code,
        detail: p.detail,
      })),
    };
    res.json(body);
  });

  return r;
}

function nextUrl(req: Request, offset: number): string {
  const u = new URL(req.originalUrl, 'http://x');
  u.searchParams.set('offset', String(offset));
  return `${u.pathname}${u.search}`;
}

function hashQuery(req: Request): string {
  const q = new URL(req.originalUrl, 'http://x').search;
  let h = 0;
  for (let i = 0; i < q.length; i++) h = (h * 31 + q.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}
