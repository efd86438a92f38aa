/**
 * DeepZoom tiles of slides and of their label masks: geometry per requested tiling, stored tiles
 * passed through, everything else rendered (through the region renderer) or resampled from the
 * label raster, and kept in a bounded rendered-tile cache keyed by the slide's ETag, so a
 * re-ingested slide is never served from a stale entry.
 */
import { LRUCache } from 'lru-cache';
import type { SlideRow } from '../catalogue/repo.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import type { ImageFormat } from '../imaging/sharp.js';
import { labelRaster } from '../labels/slide-raster.js';
import { encodeGreyPng, encodeIndexedPng } from '../masks/png.js';
import { labelResampling, resampleLabels } from '../masks/resample.js';
import type { CacheName, SlidePool } from '../slides/pool.js';
import type { RegionRenderer } from '../slides/region.js';
import { tissueMask } from '../tissue/mask.js';
import {
  deepZoomGeometry,
  isStoredTile,
  tileOrigin,
  tileRead,
  type DzGeometry,
  type SlideLevelGeometry,
} from './deepzoom.js';

export interface TileServiceOptions {
  pool: SlidePool;
  regions: RegionRenderer;
  tileCacheBytes: number;
  /** Told of every rendered-tile cache lookup (for the hit-ratio metrics). */
  onCacheLookup?: (cache: CacheName, hit: boolean) => void;
}

export interface Geometry {
  dz: DzGeometry;
  levels: SlideLevelGeometry[];
}

export interface TileAddress {
  tileSize: number;
  overlap: number;
  level: number;
  col: number;
  row: number;
}

export interface ImageTileRequest extends TileAddress {
  format: ImageFormat;
  quality: number;
}

export interface MaskTileRequest extends TileAddress {
  /** null = raw values; otherwise the 256-entry RGBA palette of the overlay and its cache key. */
  palette: { rgba: Uint8Array; key: string } | null;
  /** The label raster (default) or the detected tissue (1 = tissue). */
  layer?: 'labels' | 'tissue';
}

export interface TileService {
  geometry(g: Generation, s: SlideRow, tileSize: number, overlap: number): Geometry;
  imageTile(g: Generation, s: SlideRow, r: ImageTileRequest): Promise<{ body: Buffer; passthrough: boolean }>;
  maskTile(g: Generation, s: SlideRow, r: MaskTileRequest): Buffer;
  stats(): { renderedBytes: number };
}

export function createTileService(opts: TileServiceOptions): TileService {
  const { pool, regions } = opts;
  const rendered = new LRUCache<string, Buffer>({
    maxSize: Math.max(1, opts.tileCacheBytes),
    sizeCalculation: (v) => v.length + 64,
  });
  const geometries = new LRUCache<string, Geometry>({ max: 1024 });
  const cached = (key: string): Buffer | undefined => {
    const hit = rendered.get(key);
    opts.onCacheLookup?.('rendered_tiles', hit !== undefined);
    return hit;
  };

  const geometry = (g: Generation, s: SlideRow, tileSize: number, overlap: number): Geometry => {
    const key = `${s.etag}:${tileSize}:${overlap}`;
    let geo = geometries.get(key);
    if (!geo) {
      const levels = g.catalogue
        .levels(s.id)
        .map((l) => ({ width: l.width, height: l.height, downsample: l.downsample }));
      geo = { dz: deepZoomGeometry(levels, tileSize, overlap), levels };
      geometries.set(key, geo);
    }
    return geo;
  };

  /** The tile's stored JPEG bytes when it is one stored tile of a JPEG slide, else null. */
  const storedBytes = (
    g: Generation,
    s: SlideRow,
    geo: Geometry,
    r: ImageTileRequest,
    read: NonNullable<ReturnType<typeof tileRead>>,
  ) =>
    g.guardPixels(s.id, async () => {
      if (r.format !== 'jpeg') return null;
      const file = await pool.open(g, s);
      const stored = file.levels[read.slideLevel]!;
      if (!file.jpeg || !isStoredTile(geo.dz, r.level, read, { width: stored.tileWidth, height: stored.tileHeight }))
        return null;
      return file.jpegTile(read.slideLevel, read.lX / r.tileSize, read.lY / r.tileSize);
    });

  return {
    geometry,
    async imageTile(g, s, r) {
      const geo = geometry(g, s, r.tileSize, r.overlap);
      const read = tileRead(geo.dz, geo.levels, r.level, r.col, r.row);
      if (!read) throw tileNotFound(r);
      const key = `${s.etag}:${r.tileSize}:${r.overlap}:${r.level}:${r.col}:${r.row}:${r.format}:${r.quality}`;
      const hit = cached(key);
      if (hit) return { body: hit, passthrough: false };
      // Native geometry at a stored level: the stored JPEG is the tile, byte for byte.
      const stored = await storedBytes(g, s, geo, r, read);
      if (stored) return { body: stored, passthrough: true };
      const crop = { left: read.lX, top: read.lY, width: read.lWidth, height: read.lHeight };
      const size = { width: read.zWidth, height: read.zHeight };
      const body = (await regions.render(g, s, read.slideLevel, crop, size, {
        kind: 'encoded',
        format: r.format,
        quality: r.quality,
      })) as Buffer;
      rendered.set(key, body);
      return { body, passthrough: false };
    },
    maskTile(g, s, r) {
      const geo = geometry(g, s, r.tileSize, r.overlap);
      const read = tileRead(geo.dz, geo.levels, r.level, r.col, r.row);
      if (!read) throw tileNotFound(r);
      const layer = r.layer ?? 'labels';
      const key = `${s.etag}:m:${r.tileSize}:${r.overlap}:${r.level}:${r.col}:${r.row}:${r.palette?.key ?? 'raw'}:${layer}`;
      const hit = cached(key);
      if (hit) return hit;
      const raster = labelRaster(s);
      let values: Uint8Array;
      if (layer === 'tissue') {
        const o = tileOrigin(geo.dz, r.level, r.col, r.row);
        values = tissueMask(g, s, 'layer', o.l0X, o.l0Y, o.l0PerZ, read.zWidth, read.zHeight);
      } else if (raster) {
        const o = tileOrigin(geo.dz, r.level, r.col, r.row);
        const sampling = labelResampling(raster, o.l0X, o.l0Y, o.l0PerZ, read.zWidth, read.zHeight);
        values = resampleLabels(
          g.labels.region(raster, sampling.level, sampling.x, sampling.y, sampling.width, sampling.height),
          sampling,
        );
      } else {
        values = new Uint8Array(read.zWidth * read.zHeight);
      }
      const body = r.palette
        ? encodeIndexedPng(values, read.zWidth, read.zHeight, r.palette.rgba)
        : encodeGreyPng(values, read.zWidth, read.zHeight);
      rendered.set(key, body);
      return body;
    },
    stats: () => ({ renderedBytes: rendered.calculatedSize }),
  };
}

function tileNotFound(r: TileAddress): AppError {
  return new AppError(
    404,
    'TILE_NOT_FOUND',
    `no tile ${r.col}_${r.row} at level ${r.level} of this slide's DeepZoom pyramid`,
  );
}
