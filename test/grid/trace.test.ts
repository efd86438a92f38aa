import { describe, expect, it } from 'vitest';
import { ringArea, tracePolygons, traceRings } from '../../src/grid/trace.js';

const grid = (rows: string[]) => ({
  values: Uint8Array.from(rows.join('').split('').map(Number)),
  width: rows[0]!.length,
  height: rows.length,
});

describe('tracePolygons', () => {
  it('one pixel: a unit square, counter-clockwise with y up (positive area)', () => {
    const g = grid(['1']);
    expect(tracePolygons(g.values, g.width, g.height, 1)).toEqual([
      [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [0, 1],
          [0, 0],
        ],
      ],
    ]);
  });

  it('an L shape keeps only its corners', () => {
    const g = grid(['10', '11']);
    expect(tracePolygons(g.values, g.width, g.height, 1)).toEqual([
      [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [2, 1],
          [2, 2],
          [0, 2],
          [0, 0],
        ],
      ],
    ]);
  });

  it('a ring of pixels: an exterior with one hole', () => {
    const g = grid(['111', '101', '111']);
    const polys = tracePolygons(g.values, g.width, g.height, 1);
    expect(polys).toHaveLength(1);
    expect(polys[0]![0]).toEqual([
      [0, 0],
      [3, 0],
      [3, 3],
      [0, 3],
      [0, 0],
    ]);
    expect(polys[0]!.slice(1).map(ringArea)).toEqual([-1]);
    // The hole's own pixel is a polygon of value 0 there.
    expect(tracePolygons(g.values, g.width, g.height, 0)).toEqual([
      [
        [
          [1, 1],
          [2, 1],
          [2, 2],
          [1, 2],
          [1, 1],
        ],
      ],
    ]);
  });

  it('pixels touching diagonally are two polygons meeting at a point', () => {
    const g = grid(['10', '01']);
    const polys = tracePolygons(g.values, g.width, g.height, 1);
    expect(polys).toHaveLength(2);
    expect(polys.map((p) => ringArea(p[0]!))).toEqual([1, 1]);
  });

  it('areas add up to the pixel count for any raster', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
    for (let t = 0; t < 30; t++) {
      const width = 1 + Math.floor(rnd() * 20);
      const height = 1 + Math.floor(rnd() * 20);
      const values = Uint8Array.from({ length: width * height }, () => Math.floor(rnd() * 3));
      for (const v of [0, 1, 2]) {
        const area = traceRings(values, width, height, v).reduce((a, r) => a + ringArea(r), 0);
        expect(area).toBe(values.filter((x) => x === v).length);
        // Every hole found its exterior.
        const inPolys = tracePolygons(values, width, height, v)
          .flat()
          .reduce((a, r) => a + ringArea(r), 0);
        expect(inPolys).toBe(area);
      }
    }
  });
});
