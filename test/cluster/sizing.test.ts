/** The pure rules of the cluster: thread pools, sharp threads, budget shares, restart back-off, WORKERS. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  nextDeaths,
  restartDelay,
  splitBudget,
  workerBudgets,
  workerEnv,
  workerSizing,
  type WorkerSizing,
} from '../../src/cluster/sizing.js';
import { loadConfig } from '../../src/config.js';

describe('workerSizing', () => {
  const cases: Array<[number, number, WorkerSizing]> = [
    [2, 1, { threadPool: null, sharpConcurrency: null, budgetShare: 1 }],
    [64, 1, { threadPool: null, sharpConcurrency: null, budgetShare: 1 }],
    [2, 2, { threadPool: 2, sharpConcurrency: 1, budgetShare: 0.5 }],
    [16, 16, { threadPool: 2, sharpConcurrency: 1, budgetShare: 1 / 16 }],
    [16, 4, { threadPool: 5, sharpConcurrency: 1, budgetShare: 0.25 }],
    [64, 8, { threadPool: 9, sharpConcurrency: 1, budgetShare: 0.125 }],
    [64, 64, { threadPool: 2, sharpConcurrency: 1, budgetShare: 1 / 64 }],
    [4, 3, { threadPool: 3, sharpConcurrency: 1, budgetShare: 1 / 3 }],
    [2, 4, { threadPool: 2, sharpConcurrency: 1, budgetShare: 0.25 }],
    [4096, 2, { threadPool: 1024, sharpConcurrency: 1, budgetShare: 0.5 }],
  ];
  for (const [cores, workers, expected] of cases) {
    it(`${cores} cores, ${workers} workers`, () => expect(workerSizing(cores, workers)).toEqual(expected));
  }

  it('pool threads of all workers stay within the cores plus one waiting thread per worker', () => {
    for (let cores = 1; cores <= 64; cores++) {
      for (let workers = 2; workers <= cores; workers++) {
        const s = workerSizing(cores, workers);
        expect(workers * s.threadPool! * s.sharpConcurrency!).toBeLessThanOrEqual(cores + 2 * workers);
      }
    }
  });

  it('refuses nonsense', () => {
    expect(() => workerSizing(0, 1)).toThrow(RangeError);
    expect(() => workerSizing(2, 0)).toThrow(RangeError);
    expect(() => workerSizing(2, 1.5)).toThrow(RangeError);
  });
});

describe('budgets and environment', () => {
  it('splits a whole-service budget between workers in whole bytes; 0 stays off', () => {
    expect(splitBudget(256 * 1024 * 1024, workerSizing(8, 4))).toBe(64 * 1024 * 1024);
    expect(splitBudget(1000, workerSizing(3, 3))).toBe(333);
    expect(splitBudget(0, workerSizing(8, 4))).toBe(0);
    expect(splitBudget(12345, workerSizing(8, 1))).toBe(12345);
  });

  it('splits every cache budget of the configuration', () => {
    const whole = {
      tileCacheBytes: 256,
      decodedTileCacheBytes: 0,
      coarseTileCacheBytes: 64,
      labelCacheBytes: 128,
      nearCacheBytes: 100,
    };
    expect(workerBudgets(whole, workerSizing(2, 2))).toEqual({
      tileCacheBytes: 128,
      decodedTileCacheBytes: 0,
      coarseTileCacheBytes: 32,
      labelCacheBytes: 64,
      nearCacheBytes: 50,
    });
    expect(workerBudgets(whole, workerSizing(2, 1))).toEqual(whole);
  });

  it("sizes a worker's thread pool unless the operator did", () => {
    expect(workerEnv({}, workerSizing(16, 4))).toEqual({ UV_THREADPOOL_SIZE: '5' });
    expect(workerEnv({ UV_THREADPOOL_SIZE: '' }, workerSizing(16, 4))).toEqual({ UV_THREADPOOL_SIZE: '5' });
    expect(workerEnv({ UV_THREADPOOL_SIZE: '12' }, workerSizing(16, 4))).toEqual({});
    expect(workerEnv({}, workerSizing(16, 1))).toEqual({});
  });
});

describe('restart back-off', () => {
  it('doubles from 100 ms to a 10 s ceiling', () => {
    expect([1, 2, 3, 4, 7, 8, 20, 200].map(restartDelay)).toEqual([100, 200, 400, 800, 6400, 10_000, 10_000, 10_000]);
    expect(restartDelay(0)).toBe(100);
  });

  it('counts deaths in a row; a worker that lived 30 s starts again from the shortest delay', () => {
    const cases: Array<[number, number | null, number]> = [
      [0, null, 1], // died before it listened
      [0, 5, 1],
      [3, 29_999, 4],
      [3, 30_000, 1],
      [7, 3_600_000, 1],
      [7, null, 8],
    ];
    for (const [before, lived, after] of cases) expect(nextDeaths(before, lived)).toBe(after);
  });
});

describe('WORKERS', () => {
  it('defaults to the cores this process may use, and takes 1..1024', () => {
    expect(loadConfig({}).workers).toBe(Math.min(availableParallelism(), 1024));
    expect(loadConfig({ WORKERS: '1' }).workers).toBe(1);
    expect(loadConfig({ WORKERS: '1024' }).workers).toBe(1024);
  });

  for (const bad of ['0', '-1', 'abc', '1025', '2.5']) {
    it(`refuses WORKERS=${bad}, naming the variable`, () => {
      expect(() => loadConfig({ WORKERS: bad })).toThrow(/WORKERS=/);
    });
  }
});
