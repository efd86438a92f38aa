import { describe, expect, it } from 'vitest';
import { cellStarts, gridArea, gridCells, majorityOf } from '../../src/grid/cells.js';

describe('cellStarts', () => {
  it.each([
    [0, 1000, 256, 256, [0, 256, 512]],
    [0, 1024, 256, 256, [0, 256, 512, 768]],
    [0, 1000, 256, 128, [0, 128, 256, 384, 512, 640]],
    [100, 612, 256, 256, [100, 356]],
    [0, 255, 256, 256, []],
    [0, 1000, 300.5, 300.5, [0, 300, 601]],
    [0, 2048, 512.0000001, 512.0000001, [0, 512, 1024]],
  ])('start %i end %i size %d stride %d', (start, end, size, stride, want) => {
    expect(cellStarts(start, end, size, stride)).toEqual(want);
  });
});

describe('gridArea and gridCells', () => {
  const slide = { width: 1000, height: 600 };
  it.each([
    [null, { x: 0, y: 0, width: 1000, height: 600 }],
    [
      { x: 900, y: 500, width: 400, height: 400 },
      { x: 900, y: 500, width: 100, height: 100 },
    ],
    [{ x: 1000, y: 0, width: 10, height: 10 }, null],
    [
      { x: 10.7, y: 0, width: 100, height: 100 },
      { x: 10, y: 0, width: 100.7, height: 100 },
    ],
  ])('%j', (rect, want) => {
    expect(gridArea(slide, rect)).toEqual(want);
  });
  it('cells row by row inside the slide', () => {
    expect(gridCells(slide, null, 256, 256)).toEqual({ xs: [0, 256, 512], ys: [0, 256] });
    expect(gridCells(slide, { x: 100, y: 100, width: 256, height: 256 }, 256, 64)).toEqual({ xs: [100], ys: [100] });
  });
});

describe('majorityOf', () => {
  it.each([
    [
      [
        [0, 0.2],
        [3, 0.8],
      ],
      3,
    ],
    [
      [
        [0, 0.6],
        [3, 0.4],
      ],
      null,
    ],
    [
      [
        [1, 0.5],
        [3, 0.5],
      ],
      null,
    ],
    [
      [
        [1, 0.500001],
        [3, 0.499999],
      ],
      1,
    ],
    [[], null],
  ])('%j', (entries, want) => {
    expect(majorityOf(new Map(entries as [number, number][]), 0)).toBe(want);
  });
});
