/**
 * What the real-size bench reads from the kernel about the processes it measures: dropping the
 * page cache (root only), the process tree of a service (cluster workers are children of the
 * primary), its bytes read from disk (/proc/<pid>/io read_bytes), its RSS, the CPU time of each of
 * its threads by thread name (the JavaScript thread vs libuv's pool, where the native JPEG decoder
 * and sharp run), and what the page cache holds of files (util-linux `fincore`, i.e. mincore(2)).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** `sync; echo 1 > /proc/sys/vm/drop_caches`: true when the kernel took it (needs root). */
export function dropPageCache(): boolean {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '1\n');
    return true;
  } catch {
    return false;
  }
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** The pid and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = readOr(`/proc/${e}/stat`);
    if (!s) continue;
    const ppid = Number(statFields(s)[1]);
    (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(Number(e));
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Sum of read_bytes (what the process tree made the block layer read) of live processes. */
export function readBytes(pids: number[]): number {
  let sum = 0;
  for (const p of pids) {
    const m = /^read_bytes:\s*(\d+)/m.exec(readOr(`/proc/${p}/io`) ?? '');
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/** Sum of VmRSS and of VmHWM (peak) over the tree, in bytes. */
export function treeRss(pids: number[]): { rss: number; peak: number } {
  let rss = 0;
  let peak = 0;
  for (const p of pids) {
    const s = readOr(`/proc/${p}/status`) ?? '';
    rss += Number(/^VmRSS:\s*(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
    peak += Number(/^VmHWM:\s*(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
  }
  return { rss, peak };
}

const TICK_MS = 10; // CLK_TCK is 100 on Linux x86-64/arm64

/**
 * CPU ms (user + system) by thread group: "js" is each process's main thread (the JavaScript
 * thread), other threads by their name (libvips names its own).
 */
export function threadCpuMs(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tids) {
      const s = readOr(`/proc/${p}/task/${t}/stat`);
      if (!s) continue;
      const f = statFields(s);
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      // Node 20 leaves its other threads named "node": libuv's pool (where the native JPEG decoder
      // and sharp's calls run) and V8's helpers (concurrent GC, compiler), which take little.
      const name = Number(t) === p ? 'js (main thread)' : comm === 'node' ? 'pool + V8 helper threads' : comm;
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_MS);
    }
  }
  return out;
}

export function diffCpu(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** Bytes of each file resident in the page cache (fincore, mincore(2) underneath); null without fincore. */
export function pageCacheBytes(paths: string[]): { resident: number; size: number } | null {
  try {
    const out = execFileSync('fincore', ['--bytes', '--json', ...paths], { encoding: 'utf8' });
    const rows = (JSON.parse(out) as { fincore: Array<{ res: number | string; size: number | string }> }).fincore;
    return rows.reduce((a, r) => ({ resident: a.resident + Number(r.res), size: a.size + Number(r.size) }), {
      resident: 0,
      size: 0,
    });
  } catch {
    return null;
  }
}
