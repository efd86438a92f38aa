/** The local-directory store: the same interface over a directory, nothing outside it. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localStore } from '../../src/storage/local-store.js';
import { openRemote, openStore } from '../../src/storage/open.js';
import { remoteSettings } from '../support/remote-stores.js';

const dir = mkdtempSync(join(tmpdir(), 'local-store-'));
mkdirSync(join(dir, 'slides', 'sub'), { recursive: true });
writeFileSync(join(dir, 'manifest.json'), '{"name":"x"}');
writeFileSync(join(dir, 'slides', 'a.tif'), Buffer.from('0123456789'));
writeFileSync(join(dir, 'slides', 'sub', 'b.tif'), Buffer.from('abc'));
writeFileSync(join(dir, 'slides', '.hidden'), Buffer.from('h'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('localStore', () => {
  const store = localStore(dir);
  it('stats, lists (recursively, hidden files skipped), gets and reads ranges', async () => {
    expect(await store.stat('slides/a.tif')).toMatchObject({ key: 'slides/a.tif', size: 10, etag: null });
    expect(await store.stat('slides/none.tif')).toBeNull();
    expect((await store.list('slides')).map((o) => [o.key, o.size])).toEqual([
      ['slides/a.tif', 10],
      ['slides/sub/b.tif', 3],
    ]);
    expect((await store.get('manifest.json', 1024))?.toString()).toBe('{"name":"x"}');
    expect(await store.get('missing.json', 1024)).toBeNull();
    expect((await store.read('slides/a.tif', { offset: 3, length: 4 }, null)).toString()).toBe('3456');
  });
  it('a read past the end is SLIDE_CHANGED; a key outside the directory is refused', async () => {
    await expect(store.read('slides/a.tif', { offset: 8, length: 4 }, null)).rejects.toMatchObject({
      code: 'SLIDE_CHANGED',
    });
    expect(await store.get('../etc/passwd', 10)).toBeNull();
    await expect(store.read('../etc/passwd', { offset: 0, length: 1 }, null)).rejects.toThrow(/outside/);
  });
  it('a local DATA_DIR opens this store and no remote reader (slides keep their file descriptors)', () => {
    expect(openStore(dir, remoteSettings()).kind).toBe('local');
    expect(openRemote(dir, remoteSettings())).toBeNull();
  });
});
