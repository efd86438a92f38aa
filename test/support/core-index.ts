/**
 * Reading an index file the way a test checks it: plain SQL on a read-only connection, label
 * tiles inflated back into whole level images.
 */
import Database from 'better-sqlite3';
import { inflateRawSync } from 'node:zlib';
import { levelSize, type RasterGeometry } from '../../src/labels/raster.js';
import type { Image } from './core-raster.js';

export type Row = Record<string, unknown>;

export function withIndex<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function slideRows(path: string): Map<string, Row> {
  return withIndex(
    path,
    (db) =>
      new Map(
        db
          .prepare<[], Row & { id: string }>('SELECT * FROM slides ORDER BY id')
          .all()
          .map((r) => [r.id, r]),
      ),
  );
}

export function problemRows(
  path: string,
): Array<{ rel_path: string; slide_id: string | null; code: string; detail: string }> {
  return withIndex(path, (db) =>
    db
      .prepare<[], { rel_path: string; slide_id: string | null; code: string; detail: string }>(
        'SELECT * FROM ingest_problems ORDER BY rel_path',
      )
      .all(),
  );
}

/** The raster geometry the slide row records (tile size: the service's 256). */
export function geometryOf(slide: Row): RasterGeometry {
  return {
    downsample: slide['label_downsample'] as number,
    width: slide['label_width'] as number,
    height: slide['label_height'] as number,
    levels: slide['label_levels'] as number,
    tileSize: 256,
  };
}

/** Every stored label tile of a slide, inflated and put back together, one image per level. */
export function levelImages(path: string, slideId: string, g: RasterGeometry): Image[] {
  const tiles = withIndex(path, (db) =>
    db
      .prepare<[string], { level: number; tx: number; ty: number; uniform: number | null; data: Buffer | null }>(
        'SELECT level, tx, ty, uniform, data FROM label_tiles WHERE slide_id = ?',
      )
      .all(slideId),
  );
  const ts = g.tileSize;
  const images = Array.from({ length: g.levels }, (_, k) => {
    const { width, height } = levelSize(g, k);
    return { width, height, data: new Uint8Array(width * height) };
  });
  for (const t of tiles) {
    const img = images[t.level]!;
    const data = t.data ? inflateRawSync(t.data) : null;
    if (data && data.length !== ts * ts)
      throw new Error(`tile ${t.level}/${t.tx}/${t.ty} inflates to ${data.length} bytes`);
    for (let r = 0; r < ts; r++) {
      const y = t.ty * ts + r;
      if (y >= img.height) break;
      for (let c = 0; c < ts && t.tx * ts + c < img.width; c++)
        img.data[y * img.width + t.tx * ts + c] = t.uniform ?? data![r * ts + c]!;
    }
  }
  return images;
}
