/**
 * Reads label raster regions from the index: tiles are fetched by primary key, inflated once
 * and kept in a byte-bounded LRU keyed by the slide's ETag (so a re-ingest never serves stale
 * labels). Synchronous on purpose: a tile is a B-tree lookup and a ~50 us inflate.
 */
import { inflateRawSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/open.js';
import { levelSize, type RasterGeometry } from './raster.js';

export interface LabelRaster extends RasterGeometry {
  slideId: string;
  etag: string;
}

export interface LabelReader {
  /** One tile of raster level `level`: its pixels (tileSize x tileSize, shared: do not modify) or its uniform value. */
  tile(r: LabelRaster, level: number, tx: number, ty: number): Uint8Array | number;
  /**
   * Values of rectangle [x, x + width) x [y, y + height) of raster level `level` (row-major);
   * 0 outside the raster.
   */
  region(r: LabelRaster, level: number, x: number, y: number, width: number, height: number): Uint8Array;
}

type Tile = Uint8Array | number;

export function createLabelReader(db: Db, cacheBytes: number): LabelReader {
  const one = db.prepare<[string, number, number, number], { uniform: number | null; data: Buffer | null }>(
    'SELECT uniform, data FROM label_tiles WHERE slide_id = ? AND level = ? AND ty = ? AND tx = ?',
  );
  const cache = new LRUCache<string, { tile: Tile }>({
    maxSize: Math.max(1, cacheBytes),
    sizeCalculation: (v) => (typeof v.tile === 'number' ? 64 : v.tile.length + 64),
  });
  const tile = (r: LabelRaster, level: number, tx: number, ty: number): Tile => {
    const key = `${r.etag}:${level}:${tx}:${ty}`;
    const hit = cache.get(key);
    if (hit) return hit.tile;
    const row = one.get(r.slideId, level, ty, tx);
    const t: Tile = !row ? 0 : row.uniform !== null ? row.uniform : new Uint8Array(inflateRawSync(row.data!));
    cache.set(key, { tile: t });
    return t;
  };
  return {
    tile,
    region(r, level, x, y, width, height) {
      const out = new Uint8Array(width * height);
      const size = levelSize(r, level);
      const ts = r.tileSize;
      const x0 = Math.max(0, x);
      const y0 = Math.max(0, y);
      const x1 = Math.min(size.width, x + width);
      const y1 = Math.min(size.height, y + height);
      if (x1 <= x0 || y1 <= y0) return out;
      for (let ty = Math.floor(y0 / ts); ty <= Math.floor((y1 - 1) / ts); ty++) {
        for (let tx = Math.floor(x0 / ts); tx <= Math.floor((x1 - 1) / ts); tx++) {
          const t = tile(r, level, tx, ty);
          if (t === 0) continue;
          const cx0 = Math.max(x0, tx * ts);
          const cx1 = Math.min(x1, (tx + 1) * ts);
          for (let yy = Math.max(y0, ty * ts); yy < Math.min(y1, (ty + 1) * ts); yy++) {
            const dst = (yy - y) * width + (cx0 - x);
            if (typeof t === 'number') out.fill(t, dst, dst + (cx1 - cx0));
            else out.set(t.subarray((yy - ty * ts) * ts + (cx0 - tx * ts), (yy - ty * ts) * ts + (cx1 - tx * ts)), dst);
          }
        }
      }
      return out;
    },
  };
}
