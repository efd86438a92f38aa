import { describe, expect, it } from 'vitest';
import { onLevelPart } from '../../src/slides/region.js';

describe('onLevelPart', () => {
  const level = { width: 1000, height: 800 };
  const cases: Array<
    [
      string,
      { left: number; top: number; width: number; height: number },
      { width: number; height: number },
      ReturnType<typeof onLevelPart>,
    ]
  > = [
    [
      'inside: the whole rectangle',
      { left: 10, top: 20, width: 100, height: 50 },
      { width: 100, height: 50 },
      { source: { left: 10, top: 20, width: 100, height: 50 }, target: { left: 0, top: 0, width: 100, height: 50 } },
    ],
    [
      'past the right and bottom edges',
      { left: 950, top: 780, width: 100, height: 40 },
      { width: 100, height: 40 },
      { source: { left: 950, top: 780, width: 50, height: 20 }, target: { left: 0, top: 0, width: 50, height: 20 } },
    ],
    [
      'past the left and top edges',
      { left: -30, top: -10, width: 100, height: 40 },
      { width: 100, height: 40 },
      { source: { left: 0, top: 0, width: 70, height: 30 }, target: { left: 30, top: 10, width: 70, height: 30 } },
    ],
    [
      'halved on output',
      { left: -40, top: 0, width: 100, height: 100 },
      { width: 50, height: 50 },
      { source: { left: 0, top: 0, width: 60, height: 100 }, target: { left: 20, top: 0, width: 30, height: 50 } },
    ],
    ['all off the level', { left: 1000, top: 0, width: 10, height: 10 }, { width: 10, height: 10 }, null],
    [
      'less than an output pixel on the level',
      { left: -99, top: 0, width: 100, height: 100 },
      { width: 10, height: 10 },
      null,
    ],
  ];
  for (const [name, rect, size, expected] of cases)
    it(name, () => expect(onLevelPart(level, rect, size)).toEqual(expected));
});
