/**
 * Export planning (pure: no I/O): which epochs, and how an epoch of `count` patches is cut into
 * WebDataset shards. Shard j of an epoch holds the indices [j * size, (j + 1) * size): exactly the
 * samples of POST /batches {..., shard: 0, shards: 1, start: j * size, limit: size}, in order.
 */
export interface ShardPlan {
  name: string;
  start: number;
  count: number;
}

/** "0-9", "3", "0,2,5-7" -> sorted distinct epochs; null when the text is not such a list. */
export function parseEpochs(text: string, max = 1_000_000_000): number[] | null {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,10})\s*(?:-\s*(\d{1,10})\s*)?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > max || b - a > 100_000) return null;
    for (let e = a; e <= b; e++) out.add(e);
  }
  return [...out].sort((x, y) => x - y);
}

export function epochDir(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

/** The shards of one epoch: names shard-000000.tar, ... (WebDataset's brace notation covers them). */
export function shardPlan(count: number, shardSize: number): ShardPlan[] {
  const out: ShardPlan[] = [];
  for (let j = 0; j * shardSize < count; j++) {
    out.push({
      name: `shard-${String(j).padStart(6, '0')}.tar`,
      start: j * shardSize,
      count: Math.min(shardSize, count - j * shardSize),
    });
  }
  return out;
}

/** The /batches body of a shard. */
export function shardRequest(
  request: Record<string, unknown>,
  epoch: number,
  shard: ShardPlan,
): Record<string, unknown> {
  return { ...request, epoch, shard: 0, shards: 1, blockSize: 1, start: shard.start, limit: shard.count };
}
