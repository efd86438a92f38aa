/**
 * What the bench collects and how it is printed: every load run (one line each), the comparisons
 * of the service with the baselines measured in the same run (ratio and target), notes, and the
 * whole as bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { WrkResult } from './wrk.js';

export interface LoadRow {
  part: string;
  server: string;
  kind: string;
  pattern: string;
  connections: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Pixels of one response (tile area), for pixels/s. */
  area: number;
  pxPerSec: number;
  non2xx: number;
  socketErrors: number;
  wrapped: boolean;
  listSize: number;
  /** The machine's 1-minute load average when the run ended (other work steals CPU). */
  load1: number;
}

export interface Comparison {
  part: string;
  measure: string;
  unit: string;
  service: number | null;
  baselineName: string | null;
  baseline: number | null;
  /** service / baseline */
  ratio: number | null;
  target: string;
  pass: boolean | null;
  note?: string;
}

export class Report {
  readonly loads: LoadRow[] = [];
  readonly comparisons: Comparison[] = [];
  readonly notes: string[] = [];
  readonly parts: Record<string, unknown> = {};

  load(part: string, server: string, kind: string, pattern: string, area: number, w: WrkResult): LoadRow {
    const row: LoadRow = {
      part,
      server,
      kind,
      pattern,
      connections: w.connections,
      requests: w.requests,
      rps: w.rps,
      p50Ms: w.p50Ms,
      p99Ms: w.p99Ms,
      area,
      pxPerSec: w.rps * area,
      non2xx: w.non2xx,
      socketErrors: w.socketErrors,
      wrapped: w.wrapped,
      listSize: w.listSize,
      load1: loadavg()[0]!,
    };
    this.loads.push(row);
    process.stderr.write(`  ${fmtLoad(row)}\n`);
    if (row.non2xx > 0)
      this.note(
        `${server} ${kind} ${pattern} c${row.connections}: ${row.non2xx} of ${row.requests} responses were not 2xx`,
      );
    return row;
  }

  /** A throughput compared with a baseline: pass when service / baseline >= minRatio. */
  ratio(
    part: string,
    measure: string,
    unit: string,
    service: number | null,
    baselineName: string,
    baseline: number | null,
    minRatio: number | null,
    note?: string,
  ): void {
    const ratio = service !== null && baseline !== null && baseline > 0 ? service / baseline : null;
    const pass = minRatio === null || ratio === null ? null : ratio >= minRatio;
    this.comparisons.push({
      part,
      measure,
      unit,
      service,
      baselineName,
      baseline,
      ratio,
      target: minRatio === null ? '-' : `>= ${minRatio}x`,
      pass,
      note,
    });
  }

  /** An absolute figure against a bound. */
  value(
    part: string,
    measure: string,
    unit: string,
    service: number | null,
    bound: { min?: number; max?: number } | null,
    note?: string,
  ): void {
    let target = '-';
    let pass: boolean | null = null;
    if (bound && service !== null) {
      if (bound.min !== undefined) {
        target = `>= ${bound.min} ${unit}`;
        pass = service >= bound.min;
      } else if (bound.max !== undefined) {
        target = `< ${bound.max} ${unit}`;
        pass = service < bound.max;
      }
    }
    this.comparisons.push({
      part,
      measure,
      unit,
      service,
      baselineName: null,
      baseline: null,
      ratio: null,
      target,
      pass,
      note,
    });
  }

  note(s: string): void {
    this.notes.push(s);
  }

  print(out: NodeJS.WritableStream): void {
    out.write('\n== load runs (wrk, 127.0.0.1) ==\n');
    out.write(
      `${pad('part', 10)}${pad('server', 20)}${pad('kind', 22)}${pad('pattern', 10)}${pad('conn', 5, true)}${pad('req/s', 9, true)}${pad('p50 ms', 9, true)}${pad('p99 ms', 9, true)}${pad('Mpx/s', 9, true)}${pad('non2xx', 8, true)}${pad('load', 6, true)}  notes\n`,
    );
    for (const r of this.loads) {
      const flags = [
        r.wrapped && r.pattern !== 'warm' ? `list of ${r.listSize} wrapped` : '',
        r.socketErrors ? `${r.socketErrors} socket errors` : '',
      ]
        .filter(Boolean)
        .join(', ');
      out.write(
        `${pad(r.part, 10)}${pad(r.server, 20)}${pad(r.kind, 22)}${pad(r.pattern, 10)}${pad(String(r.connections), 5, true)}${pad(num(r.rps), 9, true)}${pad(num(r.p50Ms, 2), 9, true)}${pad(num(r.p99Ms, 2), 9, true)}${pad(num(r.pxPerSec / 1e6, 1), 9, true)}${pad(String(r.non2xx), 8, true)}${pad(r.load1.toFixed(1), 6, true)}  ${flags}\n`,
      );
    }
    out.write('\n== service vs baselines (same run) ==\n');
    out.write(
      `${pad('part', 10)}${pad('measure', 58)}${pad('service', 14, true)}  ${pad('baseline', 26)}${pad('value', 12, true)}${pad('ratio', 9, true)}  ${pad('target', 16)}result\n`,
    );
    for (const c of this.comparisons) {
      const v = (x: number | null) => (x === null ? 'n/a' : `${num(x, x < 100 ? 2 : 0)}`);
      const result = c.pass === null ? '' : c.pass ? 'PASS' : 'MISS';
      out.write(
        `${pad(c.part, 10)}${pad(`${c.measure} (${c.unit})`, 58)}${pad(v(c.service), 14, true)}  ${pad(c.baselineName ?? '', 26)}${pad(c.baselineName ? v(c.baseline) : '', 12, true)}${pad(c.ratio === null ? '' : `${num(c.ratio, 2)}x`, 9, true)}  ${pad(c.target, 16)}${result}${c.note ? `  (${c.note})` : ''}\n`,
      );
    }
    if (this.notes.length) {
      out.write('\n== notes ==\n');
      for (const n of this.notes) out.write(`- ${n}\n`);
    }
  }

  write(dir: string, meta: Record<string, unknown>): string {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.gitignore'), '*\n!.gitignore\n');
    const path = join(dir, 'latest.json');
    writeFileSync(
      path,
      JSON.stringify(
        { ...meta, parts: this.parts, loads: this.loads, comparisons: this.comparisons, notes: this.notes },
        null,
        2,
      ) + '\n',
    );
    return path;
  }
}

export function fmtLoad(r: LoadRow): string {
  return `${r.server} ${r.kind} ${r.pattern} c${r.connections}: ${num(r.rps)} req/s, p50 ${num(r.p50Ms, 2)} ms, p99 ${num(r.p99Ms, 2)} ms, ${num(r.pxPerSec / 1e6, 1)} Mpx/s${r.non2xx ? `, ${r.non2xx} non-2xx` : ''}`;
}

export function num(v: number, digits = 0): string {
  return Number.isFinite(v)
    ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : String(v);
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

export function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
