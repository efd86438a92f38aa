/**
 * SQL writes of the indexer (better-sqlite3: statements prepared once, one transaction per
 * slide with no await inside).
 */
import type { Db } from '../db/open.js';
import type { Manifest } from '../dataset/manifest.js';
import type { SlideBuild } from './build.js';
import type { ScanProblem } from './scan.js';

export interface IndexWriter {
  slideKeys(): Map<string, string>;
  replaceSlide(b: SlideBuild): void;
  deleteSlide(id: string): void;
  setDataset(manifest: Manifest, datasetVersion: string, problems: readonly ProblemRow[]): void;
}

export interface ProblemRow extends ScanProblem {
  inputKey: string | null;
}

export function createIndexWriter(db: Db): IndexWriter {
  const del = db.prepare('DELETE FROM slides WHERE id = ?');
  const insSlide =
    db.prepare(`INSERT INTO slides (id, file_name, rel_path, file_size, file_mtime_ms, input_key, etag, status, status_reason,
      format, big_tiff, width, height, mpp_x, mpp_y, compression, compression_code, photometric, tile_width, tile_height,
      label_downsample, label_width, label_height, label_levels, labelled_px, tissue_px, ingested_at)
    VALUES (@id, @file_name, @rel_path, @file_size, @file_mtime_ms, @input_key, @etag, @status, @status_reason,
      @format, @big_tiff, @width, @height, @mpp_x, @mpp_y, @compression, @compression_code, @photometric, @tile_width, @tile_height,
      @label_downsample, @label_width, @label_height, @label_levels, @labelled_px, @tissue_px, @ingested_at)`);
  const insLevel = db.prepare('INSERT INTO slide_levels VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insSource = db.prepare('INSERT INTO label_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insClass = db.prepare('INSERT INTO slide_classes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insTile = db.prepare('INSERT INTO label_tiles VALUES (?, ?, ?, ?, ?, ?)');
  const insCount = db.prepare('INSERT INTO label_tile_counts VALUES (?, ?, ?, ?, ?)');
  const insTissue = db.prepare('INSERT INTO tissue_rasters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insTissueTile = db.prepare('INSERT INTO tissue_tiles VALUES (?, ?, ?, ?, ?, ?)');
  const insTissueCount = db.prepare('INSERT INTO tissue_tile_counts VALUES (?, ?, ?, ?, ?)');

  const replaceSlide = db.transaction((b: SlideBuild) => {
    const s = b.structure;
    const id = b.candidate.id;
    const g = b.raster;
    del.run(id);
    const level0 = s.levels[0]!;
    insSlide.run({
      id,
      file_name: b.candidate.file.relPath.split('/').pop()!,
      rel_path: b.candidate.file.relPath,
      file_size: b.candidate.file.size,
      file_mtime_ms: Math.round(b.candidate.file.mtimeMs),
      input_key: b.candidate.inputKey,
      etag: b.etag,
      status: b.unsupported ? 'unsupported' : 'ok',
      status_reason: b.unsupported,
      format: s.format,
      big_tiff: s.bigTiff ? 1 : 0,
      width: s.width,
      height: s.height,
      mpp_x: s.mppX,
      mpp_y: s.mppY,
      compression: s.compression.name,
      compression_code: s.compression.code,
      photometric: s.photometric,
      tile_width: level0.tileWidth,
      tile_height: level0.tileHeight,
      label_downsample: g?.downsample ?? null,
      label_width: g?.width ?? null,
      label_height: g?.height ?? null,
      label_levels: g?.levels ?? null,
      // Whole level-0 pixels: a fractional downsample (2.5, or a scanner level's 4.0005) gives a fraction.
      labelled_px: Math.round(b.classes.reduce((n, c) => n + c.rasterPx * (g ? g.downsample ** 2 : 0), 0)),
      tissue_px: b.tissuePx,
      ingested_at: new Date().toISOString(),
    });
    s.levels.forEach((l, i) => insLevel.run(id, i, l.ifd, l.width, l.height, l.downsample, l.tileWidth, l.tileHeight));
    for (const src of b.sources)
      insSource.run(id, src.position, src.sourceId, src.format, src.relPath, src.size, src.shapes, src.downsample);
    if (g) {
      const d = g.downsample;
      for (const c of b.classes) {
        const areaL0 = c.rasterPx * d * d;
        const um2 = s.mppX !== null && s.mppY !== null ? areaL0 * s.mppX * s.mppY : null;
        const box = [
          Math.floor(c.box[0] * d),
          Math.floor(c.box[1] * d),
          Math.min(s.width, Math.ceil(c.box[2] * d)),
          Math.min(s.height, Math.ceil(c.box[3] * d)),
        ];
        insClass.run(id, c.value, c.rasterPx, areaL0, um2, box[0], box[1], box[2], box[3]);
      }
    }
    for (const t of b.tiles) insTile.run(id, t.level, t.ty, t.tx, t.uniform, t.data);
    for (const c of b.counts) insCount.run(id, c.value, c.ty, c.tx, c.count);
    const t = b.tissue;
    if (t) {
      const tg = t.geometry;
      insTissue.run(
        id,
        tg.downsample,
        tg.width,
        tg.height,
        tg.levels,
        t.threshold,
        t.inkPx,
        t.tissuePx,
        t.unlabelledPx,
      );
      for (const x of t.tiles) insTissueTile.run(id, x.level, x.ty, x.tx, x.uniform, x.data);
      for (const c of t.counts) insTissueCount.run(id, c.value, c.ty, c.tx, c.count);
    }
  });

  const setDataset = db.transaction((m: Manifest, datasetVersion: string, problems: readonly ProblemRow[]) => {
    db.prepare('DELETE FROM dataset').run();
    const put = db.prepare('INSERT INTO dataset (key, value) VALUES (?, ?)');
    put.run('name', m.name);
    put.run('version', m.version);
    put.run('description', m.description);
    put.run('manifest_hash', m.hash);
    put.run('dataset_version', datasetVersion);
    put.run('label_downsample', String(m.labelDownsample));
    put.run('updated_at', new Date().toISOString());
    db.prepare('DELETE FROM classes').run();
    const cls = db.prepare('INSERT INTO classes VALUES (?, ?, ?, ?, ?)');
    for (const c of m.taxonomy) cls.run(c.value, c.name, c.category, c.color, c.description ?? null);
    db.prepare('DELETE FROM ingest_problems').run();
    const prob = db.prepare('INSERT INTO ingest_problems VALUES (?, ?, ?, ?, ?)');
    for (const p of problems) prob.run(p.relPath, p.slideId, p.code, p.detail, p.inputKey);
  });

  return {
    slideKeys: () =>
      new Map(
        db
          .prepare<[], { id: string; input_key: string }>('SELECT id, input_key FROM slides')
          .all()
          .map((r) => [r.id, r.input_key]),
      ),
    replaceSlide: (b) => replaceSlide(b),
    deleteSlide: (id) => void del.run(id),
    setDataset: (m, v, p) => setDataset(m, v, p),
  };
}
