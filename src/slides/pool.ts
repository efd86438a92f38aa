/**
 * The open slide files of a generation and the decoded-tile cache they share. Opening a slide
 * parses its tile index once (one pread a stored tile after that), so open files are kept in an
 * LRU bounded by count. Entries are keyed by the slide's ETag: a re-ingested slide is a new key,
 * never served from a stale entry.
 */
import { LRUCache } from 'lru-cache';
import type { SlideRow } from '../catalogue/repo.js';
import type { Generation } from '../generation.js';
import { objectReader } from '../storage/object-reader.js';
import type { Remote } from '../storage/open.js';
import { objectChanged } from '../storage/store.js';
import {
  openRemoteSlideFile,
  openSlideFile,
  type DecodedTiles,
  type SlideFile,
  type SourceLevel,
  type SourceOptions,
} from './file.js';

/** How many stored tiles are remembered as recently used (keys only: ~1 MB). */
const DECODED_TILE_MEMORY = 2048;
/**
 * Levels at least this much coarser than level 0 keep their decoded tiles (coarseTileCacheBytes):
 * one of their stored tiles spans 2,048+ level-0 pixels (0.5 mm on Camelyon16), so patches at
 * 1 um/px and coarser, which read them, come back to the same tiles sample after sample.
 */
export const COARSE_DOWNSAMPLE = 4;

export type CacheName = 'rendered_tiles' | 'open_slides' | 'decoded_tiles' | 'coarse_tiles';

export interface SlidePoolOptions {
  slideHandles: number;
  /** Whole decoded stored tiles (RGB) kept for overlapping reads; 0 turns the cache off. */
  decodedTileCacheBytes: number;
  /**
   * The same for the coarse levels only (downsample >= COARSE_DOWNSAMPLE), when decodedTileCacheBytes
   * is 0; 0 or absent turns it off.
   */
  coarseTileCacheBytes?: number;
  /** Decode JPEG regions with the native region decoder (see imaging/jpeg-native.ts). */
  nativeJpeg: boolean;
  onNativeFallback?: (reason: string) => void;
  /** Told of every cache lookup (for the hit-ratio metrics). */
  onCacheLookup?: (cache: CacheName, hit: boolean) => void;
  /** The object store and range cache when DATA_DIR is remote (storage/open.ts); local files otherwise. */
  remote?: Remote | null;
}

export interface SlidePool {
  /** The slide's open file (opened and kept on first use; concurrent first uses share one opening). */
  open(g: Generation, s: SlideRow): Promise<SlideFile>;
  stats(): { decodedBytes: number; coarseBytes: number; openSlides: number };
  /**
   * Which decoder renders regions ('n' native, 'v' libvips). Part of the ETag of everything
   * rendered: the two write different JPEG bytes for the same pixels, and a strong ETag names bytes.
   */
  readonly renderer: 'n' | 'v';
}

export function createSlidePool(opts: SlidePoolOptions): SlidePool {
  const files = new LRUCache<string, Promise<SlideFile>>({
    max: opts.slideHandles,
    dispose: (f) => void f.then((x) => x.close()).catch(() => undefined),
  });
  const decodedTiles = new LRUCache<string, Buffer>({
    maxSize: Math.max(1, opts.decodedTileCacheBytes),
    sizeCalculation: (v) => v.length + 64,
  });
  const decoded = opts.decodedTileCacheBytes > 0 ? decodedTileCache(decodedTiles, opts.onCacheLookup) : undefined;
  const coarseBytes = decoded ? 0 : (opts.coarseTileCacheBytes ?? 0);
  const coarseTiles = new LRUCache<string, Buffer>({
    maxSize: Math.max(1, coarseBytes),
    sizeCalculation: (v) => v.length + 64,
  });
  // A coarse tile is kept from its first use: it is likely to be read again, and a region of it
  // decodes most of it anyway (every row above the region's bottom is entropy-decoded).
  const coarse = coarseBytes > 0 ? decodedTileCache(coarseTiles, opts.onCacheLookup, 'coarse_tiles', true) : undefined;
  const fileOptions = {
    native: opts.nativeJpeg,
    ...(decoded ? { decoded } : {}),
    ...(opts.onNativeFallback ? { onNativeFallback: opts.onNativeFallback } : {}),
  };
  const remote = opts.remote ?? null;
  return {
    open(g, s) {
      let file = files.get(s.etag);
      opts.onCacheLookup?.('open_slides', file !== undefined);
      if (!file) {
        const levels = g.catalogue.levels(s.id).map((l) => ({
          ifd: l.ifd,
          width: l.width,
          height: l.height,
          tileWidth: l.tile_width,
          tileHeight: l.tile_height,
        }));
        const options = coarse
          ? { ...fileOptions, coarse: { tiles: coarse, fromLevel: coarseFrom(g, s) } }
          : fileOptions;
        file = remote
          ? openRemote(remote, s, levels, options)
          : Promise.resolve(openSlideFile(g.slidePath(s), levels, options));
        files.set(s.etag, file);
        // A failed opening is not kept: the next request tries again (the store may be back).
        const opened = file;
        opened.catch(() => {
          if (files.peek(s.etag) === opened) files.delete(s.etag);
        });
      }
      return file;
    },
    stats: () => ({
      decodedBytes: decodedTiles.calculatedSize,
      coarseBytes: coarseTiles.calculatedSize,
      openSlides: files.size,
    }),
    renderer: opts.nativeJpeg ? 'n' : 'v',
  };
}

/** The first level of the slide at least COARSE_DOWNSAMPLE coarser than level 0 (the level count when none is). */
function coarseFrom(g: Generation, s: SlideRow): number {
  const levels = g.catalogue.levels(s.id);
  const k = levels.findIndex((l) => l.downsample >= COARSE_DOWNSAMPLE * 0.99);
  return k < 0 ? levels.length : k;
}

/**
 * A slide object: its size and Last-Modified must still be those the index recorded (else it was
 * replaced: 503 until re-ingested); its ranges are then read pinned to the ETag seen now, so a
 * replacement while it is open is refused range by range (If-Match) rather than mixed in.
 */
async function openRemote(r: Remote, s: SlideRow, levels: SourceLevel[], o: SourceOptions): Promise<SlideFile> {
  const info = await r.store.stat(s.rel_path);
  const second = (ms: number) => Math.floor(ms / 1000);
  if (!info || info.size !== s.file_size || second(info.lastModifiedMs) !== second(s.file_mtime_ms))
    throw objectChanged(s.rel_path);
  return openRemoteSlideFile(objectReader(r.store, s.rel_path, info.etag, info.size, r.cache), levels, o);
}

/**
 * The decoded-tile policy (see DecodedTiles): a stored tile's second use within the recent
 * memory (or its first, with `keepFirst`) earns a whole decode, kept by bytes; concurrent fills of
 * one tile share the decode.
 */
function decodedTileCache(
  cache: LRUCache<string, Buffer>,
  onLookup: SlidePoolOptions['onCacheLookup'],
  name: CacheName = 'decoded_tiles',
  keepFirst = false,
): DecodedTiles {
  const recent = new LRUCache<string, true>({ max: DECODED_TILE_MEMORY });
  const decoding = new Map<string, Promise<Buffer>>();
  return {
    get: (key) => {
      const hit = cache.get(key);
      onLookup?.(name, hit !== undefined);
      return hit;
    },
    fill: (key, decode) => {
      let p = decoding.get(key);
      if (!p) {
        p = decode().then((rgb) => (cache.set(key, rgb), rgb));
        decoding.set(key, p);
        void p.finally(() => decoding.delete(key)).catch(() => undefined);
      }
      return p;
    },
    seen: (key) => {
      if (keepFirst || recent.has(key)) return true;
      recent.set(key, true);
      return false;
    },
  };
}
