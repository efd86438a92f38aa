/**
 * Which GETs serve a set of byte ranges. Pure: no I/O, table-tested.
 *
 * Coalescing: ranges sorted by offset are joined while the hole between them is at most `maxGap`
 * bytes and the joined span stays within `maxSpan`; the stored tiles of one row of a request lie
 * back to back in a TIFF, so a patch over 2 x 2 tiles costs 2 GETs, not 4.
 */
import type { ByteRange } from './store.js';

export interface RangeGroup extends ByteRange {
  /** Positions (in the input) of the ranges this GET serves. */
  members: number[];
}

export function coalesce(ranges: readonly ByteRange[], maxGap: number, maxSpan: number): RangeGroup[] {
  const order = ranges.map((_, i) => i).sort((a, b) => ranges[a]!.offset - ranges[b]!.offset);
  const groups: RangeGroup[] = [];
  let cur: RangeGroup | null = null;
  for (const i of order) {
    const r = ranges[i]!;
    const end = r.offset + r.length;
    if (
      cur &&
      r.offset - (cur.offset + cur.length) <= maxGap &&
      Math.max(end, cur.offset + cur.length) - cur.offset <= maxSpan
    ) {
      cur.length = Math.max(end, cur.offset + cur.length) - cur.offset;
      cur.members.push(i);
    } else {
      cur = { offset: r.offset, length: r.length, members: [i] };
      groups.push(cur);
    }
  }
  return groups;
}

/** The aligned blocks of `blockSize` bytes a range touches (first and last index, inclusive). */
export function blocksOf(r: ByteRange, blockSize: number): { first: number; last: number } {
  return { first: Math.floor(r.offset / blockSize), last: Math.floor((r.offset + r.length - 1) / blockSize) };
}
