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
}

export interface ProfileSummary {
  /** Wall time covered by the profiles, ms. */
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

/** Self time from the sample counts (each sample worth the profile's mean interval). */
export function summariseProfiles(profiles: CpuProfile[], topN = 15): ProfileSummary {
  const byKind: Record<string, number> = {};
  const byFn = new Map<string, { fn: string; where: string; kind: string; selfMs: number }>();
  let totalMs = 0;
  for (const p of profiles) {
    const ms = (p.endTime - p.startTime) / 1000;
    totalMs += ms;
    if (p.samples.length === 0) continue;
    const per = ms / p.samples.length;
    const nodes = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    for (const id of p.samples) {
      const f = nodes.get(id);
      if (!f) continue;
      const kind = frameKind(f.functionName, f.url);
      byKind[kind] = (byKind[kind] ?? 0) + per;
      const where = f.url ? `${f.url.replace(/^.*\/(src|dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
      const key = `${f.functionName}@${where}`;
      const e =
        byFn.get(key) ?? byFn.set(key, { fn: f.functionName || '(anonymous)', where, kind, selfMs: 0 }).get(key)!;
      e.selfMs += per;
    }
  }
  const top = [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN);
  return { totalMs, byKind, top };
}
