/**
 * Reads byte ranges of one version of one object through a shared, byte-bounded LRU of recently
 * read ranges: ranges of one call are coalesced into few GETs, and concurrent calls for the same
 * range share one GET (single-flight). Cache entries are keyed by the object's ETag, so bytes of a
 * replaced object are never mixed with the new one.
 *
 * `blocks` mode is the FUSE-like baseline the benchmark compares against: whole aligned 1 MiB
 * blocks, one GET each, no coalescing (what s3fs/goofys-style mounts do under a reader).
 */
import { LRUCache } from 'lru-cache';
import { blocksOf, coalesce } from './ranges.js';
import type { ByteRange, ObjectStore, StoreObserver } from './store.js';

export type ReadMode = 'coalesced' | 'blocks';

/** Holes up to this size are read through rather than cost another round trip (~one JPEG tile). */
const MAX_GAP = 64 * 1024;
/** One GET reads at most this much: a 4096 px region of 512 px tiles is ~6 MB of JPEG. */
const MAX_SPAN = 16 * 1024 * 1024;
export const BLOCK_SIZE = 1024 * 1024;

export interface RangeCache {
  lru: LRUCache<string, Buffer>;
  inflight: Map<string, Promise<Buffer>>;
  observer: StoreObserver;
  mode: ReadMode;
}

export function createRangeCache(maxBytes: number, observer: StoreObserver, mode: ReadMode = 'coalesced'): RangeCache {
  const lru = new LRUCache<string, Buffer>({ maxSize: Math.max(1, maxBytes), sizeCalculation: (b) => b.length + 96 });
  return { lru, inflight: new Map(), observer, mode };
}

export interface ObjectReader {
  readonly size: number;
  read(ranges: readonly ByteRange[]): Promise<Buffer[]>;
}

export function objectReader(
  store: ObjectStore,
  key: string,
  etag: string | null,
  size: number,
  cache: RangeCache,
): ObjectReader {
  const id = `${key}\0${etag ?? ''}\0`;
  /** Looks a range up: its bytes, a GET already under way, or nothing. */
  const lookup = (k: string): Buffer | Promise<Buffer> | undefined => {
    const hit = cache.lru.get(k);
    if (hit) return hit;
    return cache.inflight.get(k);
  };
  const fetchShared = (k: string, get: () => Promise<Buffer>): Promise<Buffer> => {
    const p = get().then((b) => (cache.lru.set(k, b), b));
    cache.inflight.set(k, p);
    void p.finally(() => cache.inflight.delete(k)).catch(() => undefined);
    return p;
  };

  const readCoalesced = async (ranges: readonly ByteRange[]): Promise<Buffer[]> => {
    const out: Array<Buffer | Promise<Buffer>> = new Array(ranges.length);
    const missing: number[] = [];
    ranges.forEach((r, i) => {
      const known = lookup(`${id}${r.offset}:${r.length}`);
      cache.observer.cache('range', known !== undefined);
      if (known) out[i] = known;
      else missing.push(i);
    });
    const groups = coalesce(
      missing.map((i) => ranges[i]!),
      MAX_GAP,
      MAX_SPAN,
    );
    for (const g of groups) {
      const get = store.read(key, g, etag);
      // Every member is a shared in-flight range until the GET ends.
      for (const m of g.members) {
        const r = ranges[missing[m]!]!;
        const k = `${id}${r.offset}:${r.length}`;
        out[missing[m]!] = fetchShared(k, async () =>
          (await get).subarray(r.offset - g.offset, r.offset - g.offset + r.length),
        );
      }
      // Observed by the members; this keeps an unobserved failure from being reported as unhandled.
      get.catch(() => undefined);
    }
    return Promise.all(out);
  };

  const readBlocks = async (ranges: readonly ByteRange[]): Promise<Buffer[]> => {
    const block = (b: number): Buffer | Promise<Buffer> => {
      const k = `${id}block:${b}`;
      const known = lookup(k);
      cache.observer.cache('block', known !== undefined);
      if (known) return known;
      const offset = b * BLOCK_SIZE;
      return fetchShared(k, () => store.read(key, { offset, length: Math.min(BLOCK_SIZE, size - offset) }, etag));
    };
    return Promise.all(
      ranges.map(async (r) => {
        const { first, last } = blocksOf(r, BLOCK_SIZE);
        const parts: Buffer[] = [];
        // One block after another, as a file read through a mount.
        for (let b = first; b <= last; b++) parts.push(await block(b));
        const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        const at = r.offset - first * BLOCK_SIZE;
        return all.subarray(at, at + r.length);
      }),
    );
  };

  return {
    size,
    read: (ranges) => {
      const valid = ranges.filter((r) => r.length > 0);
      if (valid.length < ranges.length)
        return readNonEmpty(ranges, cache.mode === 'blocks' ? readBlocks : readCoalesced);
      return cache.mode === 'blocks' ? readBlocks(ranges) : readCoalesced(ranges);
    },
  };
}

/** Empty ranges are answered without a GET. */
async function readNonEmpty(ranges: readonly ByteRange[], read: (r: readonly ByteRange[]) => Promise<Buffer[]>) {
  const idx = ranges.flatMap((r, i) => (r.length > 0 ? [i] : []));
  const got = await read(idx.map((i) => ranges[i]!));
  const out: Buffer[] = ranges.map(() => Buffer.alloc(0));
  idx.forEach((i, k) => (out[i] = got[k]!));
  return out;
}
