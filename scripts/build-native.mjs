// Builds the native JPEG region decoder (native/jpeg-region) with node-gyp, against Node's headers
// and the system's libjpeg-turbo. Run by `npm install` / `npm ci`. A machine without a compiler
// or libjpeg62-turbo-dev still installs: the service then decodes with libvips (same pixels,
// slower: the README's benchmark section measures by how much) and says so at start and in /healthz.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'jpeg-region');
// npm hands its bundled node-gyp to scripts; fall back to one on PATH.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status === 0) {
  console.log('native JPEG region decoder: built');
} else {
  const why =
    (r.error?.message ??
      `${r.stderr}`
        .split('\n')
        .filter((l) => /error/i.test(l))
        .slice(0, 5)
        .join('\n')) ||
    `exit ${r.status}`;
  console.warn(
    `native JPEG region decoder: NOT built; regions will be decoded by libvips (slower).\n${why}\nInstall g++, make and libjpeg62-turbo-dev, then: npm run build:native`,
  );
}
