/**
 * Patch-level label tables (HTTP only): GET /slides/{id}/grid and GET /grid (every labelled slide).
 */
import { Router, type Request } from 'express';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { enumParam, intParam, numberParam } from '../http/params.js';
import { labelRaster } from '../labels/slide-raster.js';
import { IMMUTABLE_CACHE, notModified } from '../http/cache.js';
import { defaultOutlineLevel, labelFeatures } from './outline.js';
import { cellScale, hasGrid, sendGrid, type GridFormat, type GridParams } from './table.js';

export interface GridRouteDeps {
  current(): Generation;
}

const FORMATS: GridFormat[] = ['csv', 'json', 'parquet'];

export function gridRoutes(deps: GridRouteDeps): Router {
  const r = Router({ caseSensitive: true, strict: true });

  r.get('/slides/:slideId/grid', async (req, res) => {
    const g = deps.current();
    const s = g.readableSlide(req.params.slideId);
    const p = gridParams(req, true);
    const format = enumParam(req, 'format', 'csv', FORMATS);
    if (!hasGrid(g, s))
      throw new AppError(422, 'SLIDE_UNLABELLED', `slide "${s.id}" has no labels and no detected tissue`);
    const scale = cellScale(g, s, p);
    if (scale instanceof AppError) throw scale;
    await sendGrid(res, g, [s], p, format, `${s.id}-grid`);
  });

  r.get('/slides/:slideId/labels.geojson', (req, res) => {
    const g = deps.current();
    const s = g.readableSlide(req.params.slideId);
    const raster = labelRaster(s);
    if (!raster) throw new AppError(422, 'SLIDE_UNLABELLED', `slide "${s.id}" has no labels`);
    const level = intParam(req, 'level', defaultOutlineLevel(raster), 0, raster.levels - 1);
    const etag = `${s.etag}-outline${level}`;
    if (notModified(req, res, etag, IMMUTABLE_CACHE)) return;
    res.type('application/geo+json').send(JSON.stringify(labelFeatures(g, raster, level)));
  });

  r.get('/grid', async (req, res) => {
    const g = deps.current();
    const p = gridParams(req, false);
    const format = enumParam(req, 'format', 'csv', FORMATS);
    // Every slide with labels or tissue that serves the resolution.
    const slides = g.catalogue
      .listSlides({ classValues: null, status: 'ok', limit: g.catalogue.slideCount(), offset: 0 })
      .rows.filter((s) => hasGrid(g, s) && !(cellScale(g, s, p) instanceof AppError));
    await sendGrid(res, g, slides, p, format, `grid-${g.datasetVersion}`);
  });
  return r;
}

function gridParams(req: Request, rectAllowed: boolean): GridParams {
  const size = intParam(req, 'size', 256, 8, 8192);
  const stride = intParam(req, 'stride', size, 1, 65536);
  const level = req.query.level === undefined ? null : intParam(req, 'level', 0, 0, 31);
  const mpp = numberParam(req, 'mpp', undefined, 0.05, 100) ?? null;
  if (level !== null && mpp !== null) throw new AppError(400, 'INVALID_PARAMETER', 'give level or mpp, not both');
  const given = ['x', 'y', 'width', 'height'].filter((k) => req.query[k] !== undefined);
  if (given.length > 0 && !rectAllowed)
    throw new AppError(400, 'INVALID_PARAMETER', "x, y, width and height apply to one slide's grid only");
  if (given.length > 0 && given.length < 4)
    throw new AppError(400, 'INVALID_PARAMETER', 'give all of x, y, width and height, or none');
  const rect =
    given.length === 4
      ? {
          x: intParam(req, 'x', 0, 0, 2 ** 32 - 1),
          y: intParam(req, 'y', 0, 0, 2 ** 32 - 1),
          width: intParam(req, 'width', 1, 1, 2 ** 32 - 1),
          height: intParam(req, 'height', 1, 1, 2 ** 32 - 1),
        }
      : null;
  return { size, stride, level: mpp === null ? (level ?? 0) : null, mpp, rect };
}
