/**
 * Starting what the bench measures: the service from the built code, the sharp baseline, the
 * OpenSlide+Flask baseline, and one-off jobs (build, ingest). All on 127.0.0.1, all by PID.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IngestJobResult } from './ingest-job.js';
import { freePort, rssOf, runToEnd, startProcess, stopProcess, waitForPort, type Started } from '../dev/procs.js';

export const PY = '/usr/bin/python3';

export interface Server {
  name: string;
  base: string;
  pid: number;
  stop(): Promise<void>;
  rss(): { rss: number; peak: number } | null;
  /** Throws, with the process's last output, if it has died. */
  assertAlive(): void;
}

function server(name: string, base: string, p: Started): Server {
  return {
    name,
    base,
    pid: p.pid,
    stop: async () => {
      await stopProcess(p);
    },
    rss: () => rssOf(p.pid),
    assertAlive: () => {
      if (p.exited())
        throw new Error(`${name} (pid ${p.pid}) died (${p.exitStatus()}); its last output:\n${p.tail().slice(-3000)}`);
    },
  };
}

let built = false;
/** `--no-build`: measure the dist/ already there. */
export function skipBuild(): void {
  built = true;
}

/** `npm run build` once per bench run (the service is measured from dist/, as deployed). */
export async function buildService(): Promise<void> {
  if (built) return;
  await runToEnd('npm run build', 'npm', ['run', 'build']);
  built = true;
}

/** The built service; `variant` names a run with other settings (e.g. NATIVE_JPEG=false). */
export async function startService(
  dataDir: string,
  indexPath: string,
  variant?: { name: string; env: Record<string, string> },
): Promise<Server> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    INDEX_PATH: indexPath,
    PORT: String(port),
    HOST: '127.0.0.1',
    INGEST_ON_START: 'false',
    LOG_LEVEL: 'warn',
    ...variant?.env,
  };
  const name = variant?.name ?? 'service';
  const p = startProcess(name, process.execPath, [resolve('dist/server.js')], { env });
  await waitForPort(port, 20_000, { proc: p });
  const s = server(name, `http://127.0.0.1:${port}`, p);
  const health = JSON.parse((await probe(`${s.base}/healthz`, 'application/json')).bytes.toString()) as {
    imaging?: { nativeJpeg?: { enabled?: boolean } };
  };
  const wanted = env.NATIVE_JPEG !== 'false';
  if (health.imaging?.nativeJpeg?.enabled !== wanted) {
    await s.stop();
    throw new Error(
      `${name}: native JPEG decoder ${wanted ? 'wanted but not enabled (is native/jpeg-region built?)' : 'not disabled'}`,
    );
  }
  return s;
}

export async function startBaseline(slides: Array<[string, string]>): Promise<Server> {
  const port = await freePort();
  const args = [
    '--import',
    'tsx',
    resolve('bench/baseline-server.ts'),
    '--port',
    String(port),
    ...slides.flatMap(([id, path]) => ['--slide', `${id}=${path}`]),
  ];
  const p = startProcess('baseline-sharp', process.execPath, args);
  await waitForPort(port, 20_000, { proc: p });
  return server('sharp per request', `http://127.0.0.1:${port}`, p);
}

/** bench/openslide_patches.py's answer (one JSON line). */
export interface OpenSlidePatches {
  procs: number;
  patches: number;
  seconds: number;
  patchesPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  bytes: number;
  /** What the processes made the disk read (/proc/self/io). */
  readBytes: number;
  cpuMs: number;
  listSize: number;
}

/**
 * In-process OpenSlide read_region (+ resize) + JPEG on a coordinates file in `procs` processes:
 * the baseline of the patch benches.
 */
export async function openslidePatches(
  label: string,
  coords: string,
  procs: number,
  seconds: number,
  quality = 90,
): Promise<OpenSlidePatches> {
  const args = ['bench/openslide_patches.py', '--coords', coords, '--procs', String(procs)];
  args.push('--seconds', String(seconds), '--quality', String(quality));
  const { stdout } = await runToEnd(label, PY, args);
  return JSON.parse(stdout.trim().split('\n').pop()!) as OpenSlidePatches;
}

export function openslideAvailable(): boolean {
  if (!existsSync(PY)) return false;
  try {
    execFileSync(PY, ['-c', 'import openslide, flask, PIL'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startOpenSlide(slides: Array<[string, string]>, quality: number): Promise<Server> {
  const port = await freePort();
  const args = [
    resolve('bench/openslide_server.py'),
    '--port',
    String(port),
    '--quality',
    String(quality),
    ...slides.flatMap(([id, path]) => ['--slide', `${id}=${path}`]),
  ];
  const p = startProcess('openslide-flask', PY, args);
  await waitForPort(port, 20_000, { proc: p });
  return server('OpenSlide+Flask', `http://127.0.0.1:${port}`, p);
}

export async function ingestJob(mode: 'ingest' | 'demo', dir: string, indexPath: string): Promise<IngestJobResult> {
  const { stdout } = await runToEnd(`ingest-job ${mode}`, process.execPath, [
    '--import',
    'tsx',
    resolve('bench/ingest-job.ts'),
    mode,
    dir,
    indexPath,
  ]);
  const line = /^RESULT (.*)$/m.exec(stdout);
  if (!line) throw new Error(`ingest-job printed no result:\n${stdout}`);
  return JSON.parse(line[1]!) as IngestJobResult;
}

export interface Probe {
  status: number;
  type: string;
  bytes: Buffer;
}

/** One request that must answer 200 with the given content type; the failure says what came back. */
export async function probe(url: string, type: string, init?: RequestInit): Promise<Probe> {
  const res = await fetch(url, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  const got = res.headers.get('content-type') ?? '';
  if (res.status !== 200 || !got.startsWith(type)) {
    throw new Error(
      `${init?.method ?? 'GET'} ${url} -> ${res.status} ${got}: ${bytes.toString('utf8', 0, Math.min(bytes.length, 500))}`,
    );
  }
  return { status: res.status, type: got, bytes };
}
