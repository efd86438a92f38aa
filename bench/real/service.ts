/**
 * The built service for the real-size part, pinned to cores with `taskset -c` and started with
 * WORKERS matching (cluster mode reads it; a build without cluster mode ignores it and runs one
 * process), optionally under `node --cpu-prof` (profiles written on exit, one per process).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort, startProcess, stopProcess, waitForPort } from '../../dev/procs.js';
import { probe } from '../servers.js';
import { processTree } from './proc-stats.js';

export interface RealService {
  name: string;
  base: string;
  pid: number;
  /** The process and its children (cluster workers). */
  tree(): number[];
  assertAlive(): void;
  stop(): Promise<void>;
}

export interface RealServiceOptions {
  name: string;
  dataDir: string;
  index: string;
  /** taskset's cpu list, e.g. "0" or "0,1". */
  cpus: string;
  workers: number;
  cpuProfDir?: string;
  /** Another build's entry (default: this tree's dist/server.js), e.g. a baseline to compare with. */
  script?: string;
}

export function tasksetAvailable(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startRealService(o: RealServiceOptions): Promise<RealService> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: o.dataDir,
    INDEX_PATH: o.index,
    PORT: String(port),
    HOST: '127.0.0.1',
    INGEST_ON_START: 'false',
    LOG_LEVEL: 'warn',
    WORKERS: String(o.workers),
  };
  const prof = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  // taskset execs node: the pid started is the service's own.
  const p = startProcess(
    o.name,
    'taskset',
    ['-c', o.cpus, process.execPath, ...prof, resolve(o.script ?? 'dist/server.js')],
    {
      env,
    },
  );
  await waitForPort(port, 30_000, { proc: p });
  const base = `http://127.0.0.1:${port}`;
  const health = JSON.parse((await probe(`${base}/healthz`, 'application/json')).bytes.toString()) as {
    imaging?: { nativeJpeg?: { enabled?: boolean } };
  };
  if (health.imaging?.nativeJpeg?.enabled !== true) {
    await stopProcess(p);
    throw new Error(`${o.name}: native JPEG decoder not enabled (is native/jpeg-region built?)`);
  }
  return {
    name: o.name,
    base,
    pid: p.pid,
    tree: () => processTree(p.pid),
    assertAlive: () => {
      if (p.exited()) throw new Error(`${o.name} died (${p.exitStatus()}); its last output:\n${p.tail().slice(-3000)}`);
    },
    // A profiled process writes its profile while exiting: give it time before SIGKILL.
    stop: async () => {
      await stopProcess(p, o.cpuProfDir ? 20_000 : 3000);
    },
  };
}
