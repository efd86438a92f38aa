import { describe, expect, it } from 'vitest';
import { createBandComposer, type LoadedSource } from '../../src/labels/compose.js';
import type { LabelShape } from '../../src/labels/shapes.js';
import { bruteCompose, rows } from '../support/core-raster.js';
import { randomInt, seededRandom } from '../support/core-fixtures.js';

type Mask = Extract<LoadedSource, { kind: 'mask' }>;

function mask(downsample: number, table: string[]): Mask {
  const width = table[0]!.length;
  return {
    kind: 'mask',
    width,
    height: table.length,
    downsample,
    values: Uint8Array.from(table.join(''), (c) => Number(c)),
  };
}

function vector(...shapes: Array<[number | null, number, number, number, number]>): LoadedSource {
  const out: LabelShape[] = shapes.map(([value, x0, y0, x1, y1]) => ({
    value,
    name: 's',
    rings: [Float64Array.from([x0, y0, x1, y0, x1, y1, x0, y1])],
  }));
  return { kind: 'vector', shapes: out };
}

/** Composes the whole raster in bands of `tileSize` rows; also returns each band's dirty columns. */
function compose(
  sources: LoadedSource[],
  width: number,
  height: number,
  d: number,
  tileSize = 4,
): { data: Uint8Array; dirty: number[][] } {
  const c = createBandComposer(sources, width, d, tileSize);
  const data = new Uint8Array(width * height);
  const band = new Uint8Array(width * tileSize);
  const dirtyRows: number[][] = [];
  for (let row = 0; row < height; row += tileSize) {
    const n = Math.min(tileSize, height - row);
    const dirty = new Uint8Array(Math.ceil(width / tileSize)).fill(7); // stale: compose must reset
    band.fill(9); // stale: compose must zero
    c.compose(band, row, n, dirty);
    data.set(band.subarray(0, n * width), row * width);
    dirtyRows.push(Array.from(dirty));
  }
  return { data, dirty: dirtyRows };
}

describe('createBandComposer: masks', () => {
  it('a downsample-16 mask in a downsample-4 raster: each mask pixel becomes 4 x 4', () => {
    const got = compose([mask(16, ['120', '034'])], 12, 8, 4).data;
    expect(rows(got, 12)).toEqual([...Array(4).fill('111122220000'), ...Array(4).fill('000033334444')]);
  });

  it('a mask at the raster resolution is copied; rows and columns past the mask stay 0', () => {
    expect(rows(compose([mask(4, ['12', '34'])], 3, 3, 4).data, 3)).toEqual(['120', '340', '000']);
  });

  const ratios: Array<[number, number, string]> = [
    [6, 4, 'ratio 1.5'],
    [5, 2, 'ratio 2.5: raster centres fall exactly on mask pixel edges'],
    [10, 3, 'ratio 3.33'],
    [7, 4, 'ratio 1.75'],
    [4, 6, 'ratio 0.67: mask finer than the raster (nearest, no blending)'],
    [9, 2.25, 'non-integer raster downsample'],
  ];
  for (const [dm, d, why] of ratios) {
    it(`non-integer ratios: mask downsample ${dm} in raster downsample ${d} (${why}) = nearest pixel centre`, () => {
      const rnd = seededRandom(dm * 100 + d);
      const mw = 13;
      const mh = 9;
      const m: Mask = {
        kind: 'mask',
        width: mw,
        height: mh,
        downsample: dm,
        values: Uint8Array.from({ length: mw * mh }, () => randomInt(rnd, 0, 5)),
      };
      const w = Math.ceil((mw * dm) / d);
      const h = Math.ceil((mh * dm) / d);
      expect(rows(compose([m], w, h, d, 8).data, w)).toEqual(rows(bruteCompose([m], w, h, d), w));
    });
  }

  it('the exact nearest-centre table of a ratio-2.5 mask', () => {
    // Raster column i samples mask column floor((i + 0.5) * 2 / 5): centres at mask x 0.2, 0.6,
    // 1.0 (on the edge: the right-hand pixel), 1.4, 1.8, 2.2 -> mask columns 0 0 1 1 1 2.
    expect(rows(compose([mask(5, ['123'])], 6, 2, 2, 8).data, 6)).toEqual(['112223', '112223']);
  });
});

describe('createBandComposer: painting order', () => {
  const base = mask(8, ['11', '22']); // a 4 x 4 raster at d = 4: quadrant rows of 1s then 2s

  it('a vector source after a mask paints over it; outside its shapes the mask shows', () => {
    const got = compose([base, vector([5, 4, 4, 12, 8])], 4, 4, 4).data;
    expect(rows(got, 4)).toEqual(['1111', '1551', '2222', '2222']);
  });

  it('a mask after a vector source paints over it, and its 0 pixels are transparent', () => {
    const top = mask(8, ['30', '00']);
    const got = compose([vector([5, 0, 0, 16, 8]), top], 4, 4, 4).data;
    expect(rows(got, 4)).toEqual(['3355', '3355', '0000', '0000']);
  });

  it('a hole erases only its own source: what earlier sources painted shows through', () => {
    const holey = vector([6, 0, 0, 16, 16], [null, 4, 4, 12, 12]);
    expect(rows(compose([base, holey], 4, 4, 4).data, 4)).toEqual(['6666', '6116', '6226', '6666']);
    // A hole with nothing under it leaves 0; a later source is not erased by an earlier hole.
    expect(rows(compose([holey], 4, 4, 4).data, 4)).toEqual(['6666', '6006', '6006', '6666']);
    expect(rows(compose([holey, vector([7, 4, 4, 8, 8])], 4, 4, 4).data, 4)).toEqual(['6666', '6706', '6006', '6666']);
  });

  it('dirty columns: set where a band holds a label, reset between bands', () => {
    const { data, dirty } = compose(
      [mask(1, ['00000000', '00000300', '00000000', '00000000', '00000000', '00000000'])],
      8,
      6,
      1,
      4,
    );
    expect(data.filter((v) => v !== 0)).toEqual(Uint8Array.from([3]));
    expect(dirty).toEqual([
      [0, 1],
      [0, 0],
    ]);
  });
});

describe('createBandComposer against the brute-force reference', () => {
  it('random masks and rectangles in random painting orders, in bands', () => {
    const rnd = seededRandom(99);
    for (let trial = 0; trial < 60; trial++) {
      const d = [1, 2, 4][trial % 3]!;
      const w = randomInt(rnd, 1, 50);
      const h = randomInt(rnd, 1, 50);
      const sources: LoadedSource[] = [];
      for (let k = randomInt(rnd, 1, 4); k > 0; k--) {
        if (rnd() < 0.5) {
          const dm = d * [1, 2, 4, 8][randomInt(rnd, 0, 3)]!;
          const mw = Math.ceil((w * d) / dm);
          const mh = Math.ceil((h * d) / dm);
          sources.push({
            kind: 'mask',
            width: mw,
            height: mh,
            downsample: dm,
            values: Uint8Array.from({ length: mw * mh }, () => (rnd() < 0.5 ? 0 : randomInt(rnd, 1, 8))),
          });
        } else {
          const shapes = Array.from(
            { length: randomInt(rnd, 1, 4) },
            (): [number | null, number, number, number, number] => {
              const q = () => Math.round(rnd() * (w + 4) * d * 2) / 2 - 2 * d;
              const r = () => Math.round(rnd() * (h + 4) * d * 2) / 2 - 2 * d;
              return [rnd() < 0.2 ? null : randomInt(rnd, 1, 8), q(), r(), q(), r()];
            },
          );
          sources.push(vector(...shapes));
        }
      }
      const ts = randomInt(rnd, 1, 8);
      const got = compose(sources, w, h, d, ts).data;
      expect({ trial, rows: rows(got, w) }).toEqual({ trial, rows: rows(bruteCompose(sources, w, h, d), w) });
    }
  });
});
