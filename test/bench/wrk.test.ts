import { describe, expect, it } from 'vitest';
import { parseWrk } from '../../bench/wrk.js';

/** A real report of wrk 4 with --latency and the bench's done() line. */
const OUT = `Running 1s test @ http://127.0.0.1:18555
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.48ms    8.38ms  68.18ms   90.45%
    Req/Sec   426.60    203.50     0.87k    65.00%
  Latency Distribution
     50%  389.00us
     75%    7.26ms
     90%   14.37ms
     99%    1.20s
  862 requests in 1.02s, 588.14MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    842.08
Transfer/sec:    574.55MB
WRKJSON {"requests":862,"duration_us":1023655,"bytes":616709571,"status":3,"connect":0,"read":1,"write":0,"timeout":2,"p50":389,"p90":14371,"p99":1200000,"max":1268184}
`;

describe('parseWrk', () => {
  it('reads the latency distribution in its units and the exact counters', () => {
    const r = parseWrk(OUT, 'x', 4, 500);
    expect(r.p50Ms).toBeCloseTo(0.389, 6);
    expect(r.p90Ms).toBeCloseTo(14.37, 6);
    expect(r.p99Ms).toBeCloseTo(1200, 6);
    expect(r.maxMs).toBeCloseTo(1268.184, 6);
    expect(r.requests).toBe(862);
    expect(r.rps).toBeCloseTo(862 / 1.023655, 6);
    expect(r.non2xx).toBe(3);
    expect(r.socketErrors).toBe(3);
    expect(r.wrapped).toBe(true);
  });

  it('refuses output without a report', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n', 'x', 1, 1)).toThrow(/cannot read/);
  });
});
