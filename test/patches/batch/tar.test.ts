/**
 * The batch tar writer against tar-stream (what wrote batches before, and what reads them in the
 * tests): the same bytes for the same members, and an archive tar-stream's reader takes back.
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { memberBytes, TAR_END, tarHeader, tarMembers, type TarMember } from '../../../src/patches/batch/tar.js';
import { untar } from '../../support/tar.js';

/** tar-stream's archive of the members (mtime 0, as batches wrote them). */
async function packed(members: readonly TarMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  pack.on('data', (c: unknown) => parts.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => pack.on('end', resolve).on('error', reject));
  for (const m of members)
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: m.name, size: m.body.length, mtime: new Date(0) }, m.body, (e) => (e ? reject(e) : resolve())),
    );
  pack.finalize();
  await done;
  return Buffer.concat(parts);
}

/** A deterministic pseudo-random generator (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('batch tar members', () => {
  it('are byte-identical to tar-stream pack for sizes around block edges and varied names', async () => {
    const sizes = [0, 1, 511, 512, 513, 1023, 1024, 1025, 70_001];
    const members = sizes.map((n, i) => ({
      name: [`${String(i).padStart(6, '0')}.img.0.jpg`, `${i}.json`, 'a'.repeat(100), `x${i}.mask.2.png`][i % 4]!,
      body: Buffer.from(Array.from({ length: n }, (_, k) => (k * 31 + i) % 256)),
    }));
    const mine = Buffer.concat([tarMembers(members), TAR_END]);
    expect(mine.equals(await packed(members))).toBe(true);
  });

  it('are byte-identical for random members, and read back by name, body and order', async () => {
    const next = rng(13);
    for (let round = 0; round < 20; round++) {
      const members = Array.from({ length: 1 + Math.floor(next() * 8) }, (_, i) => ({
        name: `${String(Math.floor(next() * 1e6)).padStart(6, '0')}.${i}.${['jpg', 'png', 'json', 'npy'][i % 4]}`,
        body: Buffer.from(Array.from({ length: Math.floor(next() * 3000) }, () => Math.floor(next() * 256))),
      }));
      const mine = Buffer.concat([tarMembers(members), TAR_END]);
      expect(mine.equals(await packed(members))).toBe(true);
      const back = await untar(mine);
      const unique = new Map(members.map((m) => [m.name, m.body]));
      expect([...back.keys()]).toEqual([...unique.keys()]);
      for (const [name, body] of unique) expect(back.get(name)!.equals(body)).toBe(true);
    }
  });

  it('lay out each member in whole 512-byte blocks', () => {
    for (const [size, bytes] of [
      [0, 512],
      [1, 1024],
      [512, 1024],
      [513, 1536],
    ] as const)
      expect(memberBytes(size)).toBe(bytes);
    const one = tarMembers([{ name: 'a', body: Buffer.from('xyz') }]);
    expect(one.length).toBe(1024);
    expect(one.subarray(515).every((b) => b === 0)).toBe(true);
  });

  it('a header tar-stream parses: name, size, regular file, checksum', async () => {
    const extract = tar.extract();
    const seen = new Promise<{ name: string; size?: number; type?: string | null }>((resolve) =>
      extract.on('entry', (h, stream, next) => {
        resolve(h);
        stream.resume();
        next();
      }),
    );
    Readable.from([Buffer.concat([tarHeader('000001.json', 0), TAR_END])]).pipe(extract);
    expect(await seen).toMatchObject({ name: '000001.json', size: 0, type: 'file' });
  });

  it('refuses names it cannot write in a plain header, and sizes beyond the octal field', () => {
    for (const name of ['', 'a'.repeat(101), 'tümor.json', 'a\nb'])
      expect(() => tarHeader(name, 1)).toThrow(RangeError);
    for (const size of [-1, 1.5, 8 * 2 ** 30]) expect(() => tarHeader('a', size)).toThrow(RangeError);
  });
});
