/**
 * Composes a slide's label sources, in painting order, into bands of its label raster
 * (pure: no I/O). Later sources paint over earlier ones; 0 in a source is transparent.
 *
 * Planes: `l0` level-0 pixels; `r` raster pixels (l0 / D); `m` mask pixels (l0 / mask downsample).
 * A raster pixel takes the value of the mask pixel under its centre (nearest): exact when the
 * mask is coarser than the raster, and no value is ever blended.
 */
import { prepareShapes, rasterizeRows, type ShapeScanner } from './rasterize.js';
import type { LabelShape } from './shapes.js';

export type LoadedSource =
  | { kind: 'vector'; shapes: LabelShape[] }
  | { kind: 'mask'; values: Uint8Array; width: number; height: number; downsample: number };

export interface BandComposer {
  /**
   * Fills `band` (rows x width, zeroed first) with raster rows [rowStart, rowStart + rows) and
   * sets dirty[tx] = 1 for each tile column holding a non-zero value.
   */
  compose(band: Uint8Array, rowStart: number, rows: number, dirty: Uint8Array): void;
}

export function createBandComposer(
  sources: readonly LoadedSource[],
  width: number,
  downsample: number,
  tileSize: number,
): BandComposer {
  const layers = sources.map((s) =>
    s.kind === 'vector' ? vectorLayer(prepareShapes(s.shapes, downsample)) : maskLayer(s, width, downsample),
  );
  const layer = new Uint8Array(width * tileSize);
  const layerDirty = new Uint8Array(Math.ceil(width / tileSize));
  return {
    compose(band, rowStart, rows, dirty) {
      band.fill(0);
      dirty.fill(0);
      for (const paint of layers) {
        layer.fill(0, 0, rows * width);
        layerDirty.fill(0);
        paint(layer, rowStart, rows, layerDirty, width, tileSize);
        overlay(band, layer, layerDirty, rows, width, tileSize);
        for (let t = 0; t < dirty.length; t++) dirty[t] = dirty[t]! | layerDirty[t]!;
      }
    },
  };
}

type Layer = (
  layer: Uint8Array,
  rowStart: number,
  rows: number,
  dirty: Uint8Array,
  width: number,
  tileSize: number,
) => void;

function vectorLayer(scanners: ShapeScanner[]): Layer {
  return (layer, rowStart, rows, dirty, width, tileSize) =>
    rasterizeRows(layer, width, rowStart, rows, scanners, dirty, tileSize);
}

/** Copies the non-zero values of `layer` over `band`, only in dirty tile columns. */
function overlay(
  band: Uint8Array,
  layer: Uint8Array,
  dirty: Uint8Array,
  rows: number,
  width: number,
  tileSize: number,
): void {
  for (let t = 0; t < dirty.length; t++) {
    if (!dirty[t]) continue;
    const x0 = t * tileSize;
    const x1 = Math.min(width, x0 + tileSize);
    for (let r = 0; r < rows; r++) {
      const off = r * width;
      for (let i = off + x0; i < off + x1; i++) {
        const v = layer[i]!;
        if (v !== 0) band[i] = v;
      }
    }
  }
}

/**
 * A mask as a layer. Each mask row is turned into runs of raster columns once and replayed for
 * every raster row whose centre falls in it (a downsample-16 mask covers 4 rows at D = 4).
 */
function maskLayer(m: Extract<LoadedSource, { kind: 'mask' }>, width: number, downsample: number): Layer {
  const ratio = m.downsample / downsample; // raster pixels per mask pixel
  // First raster column whose centre lies in mask column mx: ceil(mx * ratio - 0.5).
  const colStart = (mx: number) => Math.min(width, Math.max(0, Math.ceil(mx * ratio - 0.5)));
  let cachedRow = -1;
  let runs: number[] = [];
  const runsOf = (my: number) => {
    if (my === cachedRow) return runs;
    runs = [];
    const row = m.values.subarray(my * m.width, (my + 1) * m.width);
    let mx = 0;
    while (mx < m.width) {
      const v = row[mx]!;
      let end = mx + 1;
      while (end < m.width && row[end] === v) end++;
      if (v !== 0) {
        const i0 = colStart(mx);
        const i1 = colStart(end);
        if (i1 > i0) runs.push(i0, i1, v);
      }
      mx = end;
    }
    cachedRow = my;
    return runs;
  };
  return (layer, rowStart, rows, dirty, _width, tileSize) => {
    for (let r = 0; r < rows; r++) {
      const my = Math.floor(((rowStart + r + 0.5) * downsample) / m.downsample);
      if (my < 0 || my >= m.height) continue;
      const rs = runsOf(my);
      const off = r * width;
      for (let k = 0; k < rs.length; k += 3) {
        layer.fill(rs[k + 2]!, off + rs[k]!, off + rs[k + 1]!);
        const t1 = Math.floor((rs[k + 1]! - 1) / tileSize);
        for (let t = Math.floor(rs[k]! / tileSize); t <= t1; t++) dirty[t] = 1;
      }
    }
  };
}
