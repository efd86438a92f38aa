/**
 * Producing DeepZoom tiles of slides and of their label masks, with the caches that make it
 * fast: open slides (fd + parsed tile index) and rendered tiles. All caches
 * are bounded (entries or bytes) and keyed by the slide's ETag, so a re-ingested slide is never
 * served from a stale entry.
 */
import { LRUCache } from 'lru-cache';
import type { SlideRow } from '../catalogue/repo.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { renderRaw, type Crop, type ImageFormat, type RawImage, type RegionOutput } from '../imaging/sharp.js';
import { LABEL_TILE_SIZE } from '../labels/raster.js';
import type { LabelRaster } from '../labels/reader.js';
import { encodeGreyPng, encodeIndexedPng } from '../masks/png.js';
import { maskSampling, sampleRegion } from '../masks/sample.js';
import { deepZoomGeometry, tileRead, type DzGeometry, type SlideLevelGeometry } from './deepzoom.js';
import { openSlideSource, type DecodedTiles, type SlideSource } from './source.js';
import type { Limiter } from '../http/limits.js';

/** How many stored tiles are remembered as recently used (keys only: ~1 MB). */
const DECODED_TILE_MEMORY = 2048;

export interface TileServiceOptions {
  slideHandles: number;
  tileCacheBytes: number;
  /** Whole decoded stored tiles (RGB) kept for overlapping reads; 0 turns the cache off. */
  decodedTileCacheBytes: number;
  /** Decode JPEG regions with the native region decoder (see imaging/jpeg-native.ts). */
  nativeJpeg: boolean;
  onNativeFallback?: (reason: string) => void;
  /** Told of every cache lookup (for the hit-ratio metrics). */
  onCacheLookup?: (cache: 'rendered_tiles' | 'open_slides' | 'decoded_tiles', hit: boolean) => void;
}

export interface Geometry {
  dz: DzGeometry;
  levels: SlideLevelGeometry[];
}

export interface ImageTileRequest {
  tileSize: number;
  overlap: number;
  level: number;
  col: number;
  row: number;
  format: ImageFormat;
  quality: number;
}

export interface MaskTileRequest {
  tileSize: number;
  overlap: number;
  level: number;
  col: number;
  row: number;
  /** null = raw values; otherwise the 256-entry RGBA palette of the overlay and its cache key. */
  palette: { rgba: Uint8Array; key: string } | null;
}

export interface TileService {
  geometry(g: Generation, s: SlideRow, tileSize: number, overlap: number): Geometry;
  imageTile(g: Generation, s: SlideRow, r: ImageTileRequest): Promise<{ body: Buffer; passthrough: boolean }>;
  maskTile(g: Generation, s: SlideRow, r: MaskTileRequest): Buffer;
  /**
   * A rectangle of a slide level resized to `size`, encoded or raw RGB, in one pipeline; the
   * parts of the rectangle outside the level are white.
   */
  region(g: Generation, s: SlideRow, level: number, rect: Crop, size: { width: number; height: number }, out: RegionOutput): Promise<Buffer | RawImage>;
  stats(): { renderedBytes: number; decodedBytes: number; openSlides: number };
  /**
   * Which decoder renders regions ('n' native, 'v' libvips). Part of the ETag of everything
   * rendered: the two write different JPEG bytes for the same pixels, and a strong ETag names bytes.
   */
  readonly renderer: 'n' | 'v';
  /** Bounds the renders (decode, resample, encode) running at once; passthrough and cache hits are not counted. */
  setLimiter(l: Limiter): void;
}

export function createTileService(opts: TileServiceOptions): TileService {
  const sources = new LRUCache<string, SlideSource>({ max: opts.slideHandles, dispose: (s) => s.close() });
  const rendered = new LRUCache<string, Buffer>({ maxSize: Math.max(1, opts.tileCacheBytes), sizeCalculation: (v) => v.length + 64 });
  const geometries = new LRUCache<string, Geometry>({ max: 1024 });
  const decodedTiles = new LRUCache<string, Buffer>({ maxSize: Math.max(1, opts.decodedTileCacheBytes), sizeCalculation: (v) => v.length + 64 });
  /** Stored tiles used recently: a second use within this memory earns a whole decode (see DecodedTiles). */
  const recentTiles = new LRUCache<string, true>({ max: DECODED_TILE_MEMORY });
  const decoding = new Map<string, Promise<Buffer>>();
  const decoded: DecodedTiles | undefined =
    opts.decodedTileCacheBytes > 0
      ? {
          get: (key) => lookup('decoded_tiles', decodedTiles.get(key)),
          fill: (key, decode) => {
            let p = decoding.get(key);
            if (!p) {
              p = decode().then((rgb) => (decodedTiles.set(key, rgb), rgb));
              decoding.set(key, p);
              void p.finally(() => decoding.delete(key)).catch(() => undefined);
            }
            return p;
          },
          seen: (key) => {
            if (recentTiles.has(key)) return true;
            recentTiles.set(key, true);
            return false;
          },
        }
      : undefined;
  let limit: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn();
  const lookup = <T>(cache: 'rendered_tiles' | 'open_slides' | 'decoded_tiles', value: T | undefined): T | undefined => {
    opts.onCacheLookup?.(cache, value !== undefined);
    return value;
  };

  const geometry = (g: Generation, s: SlideRow, tileSize: number, overlap: number): Geometry => {
    const key = `${s.etag}:${tileSize}:${overlap}`;
    let geo = geometries.get(key);
    if (!geo) {
      const levels = g.catalogue.levels(s.id).map((l) => ({ width: l.width, height: l.height, downsample: l.downsample }));
      geo = { dz: deepZoomGeometry(levels, tileSize, overlap), levels };
      geometries.set(key, geo);
    }
    return geo;
  };

  const source = (g: Generation, s: SlideRow): SlideSource => {
    let src = lookup('open_slides', sources.get(s.etag));
    if (!src) {
      const levels = g.catalogue.levels(s.id).map((l) => ({ ifd: l.ifd, width: l.width, height: l.height, tileWidth: l.tile_width, tileHeight: l.tile_height }));
      src = openSlideSource(g.slidePath(s), levels, { native: opts.nativeJpeg, ...(decoded ? { decoded } : {}), ...(opts.onNativeFallback ? { onNativeFallback: opts.onNativeFallback } : {}) });
      sources.set(s.etag, src);
    }
    return src;
  };

  return {
    geometry,
    async imageTile(g, s, r) {
      const geo = geometry(g, s, r.tileSize, r.overlap);
      const read = tileRead(geo.dz, geo.levels, r.level, r.col, r.row);
      if (!read) throw tileNotFound(r.level, r.col, r.row);
      const key = `${s.etag}:${r.tileSize}:${r.overlap}:${r.level}:${r.col}:${r.row}:${r.format}:${r.quality}`;
      const hit = lookup('rendered_tiles', rendered.get(key));
      if (hit) return { body: hit, passthrough: false };
      return g.guardPixels(s.id, async () => {
        const src = source(g, s);
        const lvl = src.levels[read.slideLevel]!;
        // Native geometry at a stored level: the stored JPEG is the tile, byte for byte.
        const aligned =
          src.jpeg && r.format === 'jpeg' && r.overlap === 0 && geo.dz.levels[r.level]!.lPerZ === 1 &&
          lvl.tileWidth === r.tileSize && lvl.tileHeight === r.tileSize &&
          read.lWidth === r.tileSize && read.lHeight === r.tileSize && read.zWidth === r.tileSize && read.zHeight === r.tileSize &&
          read.lX % r.tileSize === 0 && read.lY % r.tileSize === 0;
        if (aligned) {
          const bytes = src.jpegTile(read.slideLevel, read.lX / r.tileSize, read.lY / r.tileSize);
          if (bytes) return { body: bytes, passthrough: true };
        }
        const crop = { left: read.lX, top: read.lY, width: read.lWidth, height: read.lHeight };
        const out = { kind: 'encoded', format: r.format, quality: r.quality } as const;
        const body = (await limit(() => src.render(read.slideLevel, crop, { width: read.zWidth, height: read.zHeight }, out))) as Buffer;
        rendered.set(key, body);
        return { body, passthrough: false };
      });
    },
    maskTile(g, s, r) {
      const raster = labelRaster(s);
      const geo = geometry(g, s, r.tileSize, r.overlap);
      const dzl = geo.dz.levels[r.level];
      const read = tileRead(geo.dz, geo.levels, r.level, r.col, r.row);
      if (!read || !dzl) throw tileNotFound(r.level, r.col, r.row);
      const key = `${s.etag}:m:${r.tileSize}:${r.overlap}:${r.level}:${r.col}:${r.row}:${r.palette?.key ?? 'raw'}`;
      const hit = lookup('rendered_tiles', rendered.get(key));
      if (hit) return hit;
      // The tile's first pixel, in level-0 pixels: its DeepZoom position times level-0 pixels per z pixel.
      const l0PerZ = 2 ** (geo.dz.levels.length - 1 - r.level);
      const zX = r.col * r.tileSize - (r.col > 0 ? r.overlap : 0);
      const zY = r.row * r.tileSize - (r.row > 0 ? r.overlap : 0);
      let values: Uint8Array;
      if (raster) {
        const sampling = maskSampling(raster, zX * l0PerZ, zY * l0PerZ, l0PerZ, read.zWidth, read.zHeight);
        values = sampleRegion(g.labels.region(raster, sampling.level, sampling.x, sampling.y, sampling.width, sampling.height), sampling);
      } else {
        values = new Uint8Array(read.zWidth * read.zHeight);
      }
      const body = r.palette ? encodeIndexedPng(values, read.zWidth, read.zHeight, r.palette.rgba) : encodeGreyPng(values, read.zWidth, read.zHeight);
      rendered.set(key, body);
      return body;
    },
    region(g, s, level, rect, size, out) {
      return g.guardPixels(s.id, () => limit(async () => {
        const src = source(g, s);
        const l = src.levels[level]!;
        const x0 = Math.max(0, rect.left);
        const y0 = Math.max(0, rect.top);
        const x1 = Math.min(l.width, rect.left + rect.width);
        const y1 = Math.min(l.height, rect.top + rect.height);
        if (x0 === rect.left && y0 === rect.top && x1 === rect.left + rect.width && y1 === rect.top + rect.height) return src.render(level, rect, size, out);
        // Part of the rectangle is off the slide: render the part on it, paste it on white glass.
        const sx = size.width / rect.width;
        const sy = size.height / rect.height;
        const ox0 = Math.round((x0 - rect.left) * sx);
        const oy0 = Math.round((y0 - rect.top) * sy);
        const ow = Math.round((x1 - rect.left) * sx) - ox0;
        const oh = Math.round((y1 - rect.top) * sy) - oy0;
        const canvas: RawImage = { data: Buffer.alloc(size.width * size.height * 3, 255), width: size.width, height: size.height, channels: 3 };
        if (x1 > x0 && y1 > y0 && ow > 0 && oh > 0) {
          const inner = (await src.render(level, { left: x0, top: y0, width: x1 - x0, height: y1 - y0 }, { width: ow, height: oh }, { kind: 'raw' })) as RawImage;
          for (let row = 0; row < inner.height; row++) {
            inner.data.copy(canvas.data, ((oy0 + row) * size.width + ox0) * 3, row * inner.width * 3, (row + 1) * inner.width * 3);
          }
        }
        return out.kind === 'raw' ? canvas : renderRaw(canvas, size, out);
      }));
    },
    setLimiter(l) {
      limit = (fn) => l.run(fn);
    },
    stats: () => ({ renderedBytes: rendered.calculatedSize, decodedBytes: decodedTiles.calculatedSize, openSlides: sources.size }),
    renderer: opts.nativeJpeg ? 'n' : 'v',
  };
}

/** The slide's label raster, or null when it has no labels (its mask is all unlabelled). */
export function labelRaster(s: SlideRow): LabelRaster | null {
  if (s.label_downsample === null || s.label_width === null || s.label_height === null || s.label_levels === null) return null;
  return { slideId: s.id, etag: s.etag, downsample: s.label_downsample, width: s.label_width, height: s.label_height, tileSize: LABEL_TILE_SIZE, levels: s.label_levels };
}

function tileNotFound(level: number, col: number, row: number): AppError {
  return new AppError(404, 'TILE_NOT_FOUND', `no tile ${col}_${row} at level ${level} of this slide's DeepZoom pyramid`);
}
