/**
 * The real tumour outlines are found from the module's own location, not the working directory:
 * a service started from anywhere (a service manager, a container's WORKDIR) uses the same files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultPolygonsDir } from '../../src/demo/polygons.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('defaultPolygonsDir', () => {
  it('is the shared fixtures next to the repository, and they exist', () => {
    expect(defaultPolygonsDir()).toBe(join(REPO, '..', 'shared/fixtures/real/camelyon16/tumor-polygons'));
    expect(existsSync(join(defaultPolygonsDir(), 'Tumor_034.json'))).toBe(true);
  });

  it('is the same when the process starts in another directory', () => {
    const module = join(REPO, 'src/demo/polygons.ts');
    const code = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(m.defaultPolygonsDir()))`;
    // tsx named by its file: a bare `--import tsx` would be looked up from the other directory.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', code], {
      cwd: tmpdir(),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(defaultPolygonsDir());
  });
});
