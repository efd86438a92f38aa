/**
 * Summary of V8 CPU profiles (`node --cpu-prof`) of the service's JavaScript threads (pure): self
 * time by function and by kind (garbage collection, idle, V8/native code called from JS shown as
 * "(program)", node's own modules, dependencies, the service's code). The profile sees only the
 * JavaScript thread: time on libuv's pool (native JPEG decode/encode, sharp) is measured by
 * thread CPU time instead (proc-stats.ts threadCpuMs).
 */

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time covered by the profiles' samples counted, ms. */
  totalMs: number;
  byKind: Record<string, number>;
  top: Array<{ fn: string; where: string; kind: string; selfMs: number }>;
}

export function frameKind(fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'program (V8, native calls)';
  if (fn === '(root)') return 'program (V8, native calls)';
  if (url.startsWith('node:') || url === '') return 'node internals / native';
  if (url.includes('/node_modules/')) return 'dependencies (JS)';
  return 'service (JS)';
}

/**
 * Self time from the sample counts (each sample worth the profile's mean interval), of the samples
 * inside `window` (microseconds of the monotonic clock V8 and process.hrtime share) when given:
 * the load, without the process's start and exit.
 */
export function summariseProfiles(
  profiles: CpuProfile[],
  topN = 15,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const byKind: Record<string, number> = {};
  const byFn = new Map<string, { fn: string; where: string; kind: string; selfMs: number }>();
  let totalMs = 0;
  for (const p of profiles) {
    if (p.samples.length === 0) continue;
    const per = (p.endTime - p.startTime) / 1000 / p.samples.length;
    const nodes = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    let t = p.startTime;
    p.samples.forEach((id, i) => {
      t += p.timeDeltas[i] ?? 0;
      if (window && (t < window.fromUs || t > window.toUs)) return;
      totalMs += per;
      const f = nodes.get(id);
      if (!f) return;
      const kind = frameKind(f.functionName, f.url);
      byKind[kind] = (byKind[kind] ?? 0) + per;
      const where = f.url ? `${f.url.replace(/^.*\/(src|dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
      const key = `${f.functionName}@${where}`;
      const e =
        byFn.get(key) ?? byFn.set(key, { fn: f.functionName || '(anonymous)', where, kind, selfMs: 0 }).get(key)!;
      e.selfMs += per;
    });
  }
  const top = [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN);
  return { totalMs, byKind, top };
}
