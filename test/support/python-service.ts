/**
 * A real listening service for tests that drive an external client (the Python package under
 * clients/python): a small dataset ingested into a temp index, served on 127.0.0.1 on an
 * ephemeral port. `demo`: the demo generator at the tests' scale (what `npm start` serves);
 * `core`: the core test dataset without the real fixture slides.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess, type RunResult } from '../../dev/procs.js';
import type { Config } from '../../src/config.js';
import { ingest } from '../../src/indexer/ingest.js';
import { serveIndex, TEST_SCALE } from './app-fixture.js';
import { buildDataset } from './core-dataset.js';

export interface ListeningService {
  url: string;
  close(): Promise<void>;
}

export async function listenDataset(kind: 'demo' | 'core', overrides: Partial<Config> = {}): Promise<ListeningService> {
  const dir = mkdtempSync(join(tmpdir(), 'python-client-'));
  const dataDir = join(dir, 'data');
  const indexPath = join(dir, 'index', 'index.sqlite');
  try {
    if (kind === 'demo') {
      const { generateDemo } = await import('../../src/demo/generate.js');
      await generateDemo({ outDir: dataDir, seed: 1, scale: TEST_SCALE });
    } else {
      await buildDataset(dataDir, { real: false });
    }
    await ingest({ dataDir, indexPath });
    const { app } = await serveIndex(dataDir, indexPath, overrides);
    const server: Server = createServer(app);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export const PYTHON = '/usr/bin/python3';

/** Why the Python client tests cannot run here, or null when they can. */
export function pythonMissing(modules: string[] = ['numpy', 'PIL', 'requests']): string | null {
  const r = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
  if (r.status !== 0)
    return `${PYTHON} lacks ${modules.join('/')} (install python3-numpy python3-pil python3-requests): ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

export type PythonRun = RunResult;

/**
 * Runs python asynchronously (the service answering it lives in this same process, so the
 * event loop must stay free), stdout and stderr interleaved as they came, killed at `timeoutMs`.
 */
export function runPython(
  args: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Promise<PythonRun> {
  // No .pyc files in the source tree; a proxy from the environment must not catch 127.0.0.1.
  const env = {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...opts.env,
  };
  return runProcess('python3', PYTHON, args, { cwd: opts.cwd, env, timeoutMs: opts.timeoutMs });
}
