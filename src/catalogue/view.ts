/**
 * Index rows -> API documents (pure). The shapes are the generated OpenAPI schemas, so the
 * contract and the code cannot drift apart silently.
 */
import type { TaxonomyClass } from '../dataset/taxonomy.js';
import type { Schemas } from '../http/types.js';
import type { ClassAreaRow, LevelRow, SlideRow, SourceRow } from './repo.js';

export function classAreas(
  rows: readonly ClassAreaRow[],
  slide: SlideRow,
  taxonomy: readonly TaxonomyClass[],
): Schemas['ClassArea'][] {
  return rows.flatMap((r) => {
    const c = taxonomy.find((t) => t.value === r.value);
    if (!c) return [];
    return [
      {
        value: r.value,
        name: c.name,
        category: c.category,
        color: c.color,
        areaPx: r.area_l0,
        areaUm2: r.area_um2,
        tissueShare: slide.tissue_px ? round(r.area_l0 / slide.tissue_px, 4) : null,
        bbox: { x: r.x0, y: r.y0, width: r.x1 - r.x0, height: r.y1 - r.y0 },
      },
    ];
  });
}

export function slideLinks(id: string): Record<string, string> {
  const base = `/slides/${id}`;
  return {
    self: base,
    thumbnail: `${base}/thumbnail.jpeg`,
  };
}

export function slideSummary(
  s: SlideRow,
  areas: readonly ClassAreaRow[],
  taxonomy: readonly TaxonomyClass[],
): Schemas['SlideSummary'] {
  return {
    id: s.id,
    name: s.file_name,
    status: s.status,
    statusReason: s.status_reason,
    width: s.width,
    height: s.height,
    mpp: s.mpp_x !== null && s.mpp_y !== null ? { x: s.mpp_x, y: s.mpp_y } : null,
    classes: classAreas(areas, s, taxonomy),
    links: slideLinks(s.id),
  };
}

export function slideDetail(
  s: SlideRow,
  levels: readonly LevelRow[],
  sources: readonly SourceRow[],
  areas: readonly ClassAreaRow[],
  taxonomy: readonly TaxonomyClass[],
): Schemas['Slide'] {
  return {
    ...slideSummary(s, areas, taxonomy),
    format: s.format,
    levels: levels.map((l) => ({
      width: l.width,
      height: l.height,
      downsample: round(l.downsample, 6),
      tileWidth: l.tile_width,
      tileHeight: l.tile_height,
    })),
    tileWidth: s.tile_width,
    tileHeight: s.tile_height,
    compression: s.compression,
    photometric: s.photometric,
    bigTiff: s.big_tiff === 1,
    tissueAreaPx: s.tissue_px,
    labels:
      s.label_downsample === null
        ? null
        : {
            downsample: s.label_downsample,
            width: s.label_width ?? 0,
            height: s.label_height ?? 0,
            sources: sources.map((x) => ({
              id: x.source_id,
              format: x.format,
              file: x.rel_path.split('/').pop() ?? x.rel_path,
              downsample: x.downsample,
              shapes: x.shapes,
            })),
          },
    legend: taxonomy.map((c) => ({
      value: c.value,
      name: c.name,
      category: c.category,
      color: c.color,
      description: c.description ?? null,
    })),
    etag: s.etag,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
