import { describe, expect, it } from 'vitest';
import { epochDir, parseEpochs, shardPlan, shardRequest } from '../../src/export/plan.js';

describe('parseEpochs', () => {
  it.each([
    ['0-9', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    ['3', [3]],
    ['5-7,0,2,6', [0, 2, 5, 6, 7]],
    [' 1 - 2 ', [1, 2]],
    ['9-3', null],
    ['a', null],
    ['1,,2', null],
    ['-1', null],
  ])('%s', (text, want) => {
    expect(parseEpochs(text)).toEqual(want);
  });
});

describe('shardPlan', () => {
  it.each([
    [
      10,
      4,
      [
        ['shard-000000.tar', 0, 4],
        ['shard-000001.tar', 4, 4],
        ['shard-000002.tar', 8, 2],
      ],
    ],
    [
      8,
      4,
      [
        ['shard-000000.tar', 0, 4],
        ['shard-000001.tar', 4, 4],
      ],
    ],
    [3, 1000, [['shard-000000.tar', 0, 3]]],
  ])('count %i, shard size %i', (count, size, want) => {
    expect(shardPlan(count, size).map((s) => [s.name, s.start, s.count])).toEqual(want);
  });
  it('names epochs and builds the /batches body of a shard', () => {
    expect(epochDir(7)).toBe('epoch-0007');
    expect(shardRequest({ classes: ['a'], count: 10 }, 3, { name: 'x', start: 4, count: 4 })).toEqual({
      classes: ['a'],
      count: 10,
      epoch: 3,
      shard: 0,
      shards: 1,
      blockSize: 1,
      start: 4,
      limit: 4,
    });
  });
});
