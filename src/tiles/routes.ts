/**
 * DeepZoom endpoints for slides and label masks (HTTP only). The geometry is chosen by query
 * parameters on the DZI and its tiles (OpenSeadragon forwards a DZI URL's query string to every
 * tile URL): none = the slide's native tiles, `tileSize=254&overlap=1` = OpenSlide's defaults.
 */
import { type Router } from 'express';
import { createRouter } from '../http/router.js';
import type { SlideRow } from '../catalogue/repo.js';
import { selectClasses } from '../dataset/taxonomy.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { IMMUTABLE_CACHE, notModified, sendImage } from '../http/cache.js';
import { enumParam, intParam, listParam, numberParam, type QuerySource } from '../http/params.js';
import type { ImageFormat } from '../imaging/sharp.js';
import { overlayPalette } from '../masks/palette.js';
import { tissuePalette } from '../tissue/mask.js';
import { dziXml, parseTileName } from './deepzoom.js';
import type { TileService } from './service.js';

export interface TileRouteDeps {
  current(): Generation;
  tiles: TileService;
  /** Which decoder renders regions: part of every image tile's ETag (see SlidePool.renderer). */
  renderer: string;
}

/** Bounds of the geometry a client may ask for: allocation per tile grows with the square. */
export const TILE_SIZE_MIN = 16;
export const TILE_SIZE_MAX = 2048;
export const OVERLAP_MAX = 32;
/** JPEG/WebP quality: below 30 is useless for pathology, above 95 only grows bytes. */
const QUALITY_DEFAULT = 80;
const IMAGE_TYPES: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
/** Tiles cannot be re-rendered differently under one ETag; the same holds for DZI documents. */
const DZI_CACHE = IMMUTABLE_CACHE;

export function tileRoutes(deps: TileRouteDeps): Router {
  const r = createRouter();

  r.get('/slides/:slideId/image.dzi', (req, res) => {
    const g = deps.current();
    const s = g.readableSlide(req.params.slideId);
    const { tileSize, overlap } = geometryParams(req, s);
    const format = enumParam(req, 'format', 'jpeg', ['jpeg', 'png', 'webp'] as const);
    if (notModified(req, res, `${s.etag}-dzi${tileSize}.${overlap}.${format}`, DZI_CACHE)) return;
    res.type('application/xml').send(dziXml(deps.tiles.geometry(g, s, tileSize, overlap).dz, format));
  });

  const planImageTile = createImageTilePlanner(deps);
  r.get('/slides/:slideId/image_files/:level/:tile', async (req, res) => {
    const plan = planImageTile(req.params, req);
    if (notModified(req, res, plan.etag, IMMUTABLE_CACHE)) return;
    sendImage(res, await plan.body(), plan.contentType);
  });

  r.get('/slides/:slideId/mask.dzi', (req, res) => {
    const g = deps.current();
    const s = g.slide(req.params.slideId);
    const { tileSize, overlap } = geometryParams(req, s);
    if (notModified(req, res, `${s.etag}-mdzi${tileSize}.${overlap}`, DZI_CACHE)) return;
    res.type('application/xml').send(dziXml(deps.tiles.geometry(g, s, tileSize, overlap).dz, 'png'));
  });

  const planMaskTile = createMaskTilePlanner(deps);
  r.get('/slides/:slideId/mask_files/:level/:tile', async (req, res) => {
    const plan = planMaskTile(req.params, req);
    if (notModified(req, res, plan.etag, IMMUTABLE_CACHE)) return;
    sendImage(res, await plan.body(), plan.contentType);
  });

  return r;
}

export interface ImageTilePlan {
  /** The strong ETag, unquoted. */
  etag: string;
  contentType: string;
  body(): Promise<Buffer>;
}

/**
 * GET /slides/{id}/image_files/{level}/{tile} up to its body: checked, its ETag named. The express
 * route above and the hot path (src/fastpath/tiles.ts) both answer through it.
 */
export function createImageTilePlanner(
  deps: TileRouteDeps,
): (params: TileParams & { slideId?: string }, req: QuerySource) => ImageTilePlan {
  return (params, req) => {
    const g = deps.current();
    const s = g.readableSlide(String(params.slideId ?? ''));
    const { tileSize, overlap } = geometryParams(req, s);
    const { level, col, row, format } = tileAddress(params, ['jpeg', 'png', 'webp']);
    const quality = intParam(req, 'quality', QUALITY_DEFAULT, 30, 95);
    const etag = `${s.etag}-i${deps.renderer}${tileSize}.${overlap}.${level}.${col}.${row}.${quality}`;
    const tile = { tileSize, overlap, level, col, row, format: format as ImageFormat, quality };
    return {
      etag,
      contentType: IMAGE_TYPES[format as ImageFormat],
      body: async () => (await deps.tiles.imageTile(g, s, tile)).body,
    };
  };
}

/**
 * GET /slides/{id}/mask_files/{level}/{tile} up to its body, as createImageTilePlanner: the express
 * route above and the hot path (src/fastpath/tiles.ts) both answer through it.
 */
export function createMaskTilePlanner(
  deps: TileRouteDeps,
): (params: TileParams & { slideId?: string }, req: QuerySource) => ImageTilePlan {
  return (params, req) => {
    const g = deps.current();
    const s = g.slide(String(params.slideId ?? ''));
    const { tileSize, overlap } = geometryParams(req, s);
    const { level, col, row } = tileAddress(params, ['png']);
    const style = enumParam(req, 'style', 'raw', ['raw', 'color'] as const);
    const layer = enumParam(req, 'layer', 'labels', ['labels', 'tissue'] as const);
    if (layer === 'tissue' && req.query.classes !== undefined)
      throw new AppError(
        400,
        'INVALID_PARAMETER',
        'classes applies to layer=labels only; the tissue layer has one value',
      );
    const palette = style === 'color' ? (layer === 'tissue' ? tissueOverlay(req) : overlay(req, g)) : null;
    if (style === 'raw' && (req.query.classes !== undefined || req.query.opacity !== undefined)) {
      throw new AppError(
        400,
        'INVALID_PARAMETER',
        'classes and opacity apply to style=color only; raw masks always carry every value',
      );
    }
    const tag = layer === 'tissue' ? '.t' : '';
    const etag = `${s.etag}-m${tileSize}.${overlap}.${level}.${col}.${row}.${palette?.key ?? 'raw'}${tag}`;
    if (layer === 'tissue') g.tissue.require(s, 'layer'); // before any 304: an old index has no tissue
    const tile = { tileSize, overlap, level, col, row, palette, layer };
    return { etag, contentType: 'image/png', body: async () => deps.tiles.maskTile(g, s, tile) };
  };
}

/** Native geometry (the slide's own square tiles, no overlap) unless the query says otherwise. */
function geometryParams(req: QuerySource, s: SlideRow): { tileSize: number; overlap: number } {
  const native =
    s.tile_width === s.tile_height && s.tile_width >= TILE_SIZE_MIN && s.tile_width <= TILE_SIZE_MAX
      ? s.tile_width
      : 256;
  const tileSize = intParam(req, 'tileSize', native, TILE_SIZE_MIN, TILE_SIZE_MAX);
  const overlap = intParam(req, 'overlap', 0, 0, OVERLAP_MAX);
  if (overlap * 2 >= tileSize)
    throw new AppError(400, 'INVALID_PARAMETER', 'overlap must be less than half the tile size');
  return { tileSize, overlap };
}

type TileParams = { level?: string; tile?: string };

function tileAddress(
  params: TileParams,
  formats: readonly string[],
): { level: number; col: number; row: number; format: string } {
  const levelRaw = String(params.level ?? '');
  const t = parseTileName(String(params.tile ?? ''));
  if (!/^\d{1,3}$/.test(levelRaw) || !t)
    throw new AppError(400, 'INVALID_TILE', 'tile URLs are {level}/{col}_{row}.{format} with whole numbers');
  if (!formats.includes(t.format))
    throw new AppError(400, 'UNSUPPORTED_FORMAT', `tile format must be one of ${formats.join(', ')}`);
  return { level: Number(levelRaw), col: t.col, row: t.row, format: t.format };
}

function tissueOverlay(req: QuerySource): { rgba: Uint8Array; key: string } {
  const opacity = numberParam(req, 'opacity', 1, 0, 1)!;
  return { rgba: tissuePalette(opacity), key: `to${Math.round(opacity * 255)}` };
}

function overlay(req: QuerySource, g: Generation): { rgba: Uint8Array; key: string } {
  const selectors = listParam(req, 'classes');
  let shown: Set<number> | null = null;
  if (selectors.length > 0) {
    const { values, unknown } = selectClasses(g.taxonomy, selectors);
    if (unknown.length > 0)
      throw new AppError(
        400,
        'UNKNOWN_CLASS',
        `not a class or category of the taxonomy: ${unknown.slice(0, 5).join(', ')}`,
      );
    shown = new Set(values);
  }
  const opacity = numberParam(req, 'opacity', 1, 0, 1)!;
  const key = `c${shown ? [...shown].sort((a, b) => a - b).join('.') : 'all'}o${Math.round(opacity * 255)}`;
  return { rgba: overlayPalette(g.taxonomy, shown, opacity), key };
}
