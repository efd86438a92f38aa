/**
 * The real entry refuses a WORKERS it cannot use at start, naming the variable, before forking
 * anything (test/cluster/sizing.test.ts has the whole table through loadConfig: 0, -1, abc, 1025, 2.5).
 */
import { describe, expect, it } from 'vitest';
import { runProcess } from '../../dev/procs.js';

describe('WORKERS out of range or not a number', () => {
  it('stops the service at start with the variable named (0, abc)', async () => {
    const runs = await Promise.all(
      ['0', 'abc'].map((w) =>
        runProcess(`service WORKERS=${w}`, process.execPath, ['--import', 'tsx', 'src/server.ts'], {
          env: { ...process.env, WORKERS: w, PORT: '0', HOST: '127.0.0.1', INGEST_ON_START: 'false' },
          timeoutMs: 30_000,
        }),
      ),
    );
    for (const [i, w] of ['0', 'abc'].entries()) {
      const r = runs[i]!;
      expect(r.timedOut, r.output).toBe(false);
      expect(r.code, r.output).toBe(1);
      expect(r.stderr).toContain(`WORKERS=${w} must be an integer from 1 to 1024`);
      expect(r.output).not.toMatch(/listening on/);
    }
  }, 40_000);
});
