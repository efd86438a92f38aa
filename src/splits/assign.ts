/**
 * The split mathematics (pure: no I/O).
 *
 * Groups (a slide, or the slides sharing a manifest attribute such as `centre`) are dealt to
 * parts (train/val/test, or fold0..fold{k-1}) so that no group is in two parts and every group
 * is in one. The number of groups per part is exact (largest remainder of the ratios); with
 * stratification, which groups go where is chosen so that each part holds its ratio's share of
 * every stratified class's area: a greedy deal by deficit, then swaps of two groups between parts
 * while a swap lowers the squared relative error. Everything depends only on (seed, group keys,
 * areas): the input order of the groups does not matter.
 */
import { hash32, quotas } from '../patches/epoch.js';

export interface SplitGroup {
  /** The slide id, or the attribute's value. */
  key: string;
  /** Area of each stratum (class or category) in the group, in the order of the strata. */
  areas: readonly number[];
}

export interface PartTarget {
  name: string;
  ratio: number;
}

/** Each part's share of each stratum's area must stay within this relative distance of its ratio. */
export const SHARE_TOLERANCE = 0.15;
/** Improvement passes over all pairs; each pass either improves or ends the search. */
const MAX_SWAP_PASSES = 50;
/** Lower a cost by less than this and it is rounding, not an improvement (keeps it deterministic). */
const EPSILON = 1e-12;

/** train/val/test from ratios, or fold0..fold{k-1} with equal ratios. */
export function partTargets(def: {
  ratios?: { train: number; val: number; test: number };
  folds?: number;
}): PartTarget[] {
  if (def.ratios) return (['train', 'val', 'test'] as const).map((name) => ({ name, ratio: def.ratios![name] }));
  const k = def.folds!;
  return Array.from({ length: k }, (_, i) => ({ name: `fold${i}`, ratio: 1 / k }));
}

/** 32-bit FNV-1a of a string's UTF-16 units: a group key's contribution to its seeded rank. */
export function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The groups in a seeded order that does not depend on their input order. */
export function seededOrder(keys: readonly string[], seed: number): number[] {
  const rank = keys.map((k) => hash32(seed, stringHash(k)));
  return keys
    .map((_, i) => i)
    .sort((a, b) => rank[a]! - rank[b]! || (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
}

/** The part index of every group (same order as `groups`). */
export function assignGroups(groups: readonly SplitGroup[], parts: readonly PartTarget[], seed: number): number[] {
  const perPart = quotas(
    groups.length,
    parts.map((p) => p.ratio),
  );
  const order = seededOrder(
    groups.map((g) => g.key),
    seed,
  );
  const totals = strataTotals(groups);
  const out = new Array<number>(groups.length).fill(-1);
  if (!totals.some((t) => t > 0)) {
    // Nothing to balance: deal the seeded order part by part.
    let p = 0;
    let left = perPart[0] ?? 0;
    for (const gi of order) {
      while (left === 0) left = perPart[++p]!;
      out[gi] = p;
      left--;
    }
    return out;
  }
  greedyDeal(groups, parts, perPart, totals, order, out);
  improveBySwaps(groups, parts, totals, order, out);
  return out;
}

/** Each part's share of each stratum's area: shares[part][stratum] (0 where a stratum has no area). */
export function achievedShares(
  groups: readonly SplitGroup[],
  assignment: readonly number[],
  nParts: number,
): number[][] {
  const totals = strataTotals(groups);
  const area = partAreas(groups, assignment, nParts, totals.length);
  return area.map((row) => row.map((a, c) => (totals[c]! > 0 ? a / totals[c]! : 0)));
}

/** Whether every share of a part with a positive ratio is within SHARE_TOLERANCE of its ratio. */
export function withinTolerance(
  shares: readonly number[][],
  parts: readonly PartTarget[],
  totals: readonly number[],
): boolean {
  return parts.every(
    (p, i) =>
      p.ratio <= 0 ||
      shares[i]!.every((s, c) => totals[c]! <= 0 || Math.abs(s - p.ratio) <= SHARE_TOLERANCE * p.ratio + 1e-12),
  );
}

export function strataTotals(groups: readonly SplitGroup[]): number[] {
  const n = groups[0]?.areas.length ?? 0;
  const totals = new Array<number>(n).fill(0);
  for (const g of groups) g.areas.forEach((a, c) => (totals[c]! += a));
  return totals;
}

function partAreas(
  groups: readonly SplitGroup[],
  assignment: readonly number[],
  nParts: number,
  nStrata: number,
): number[][] {
  const area = Array.from({ length: nParts }, () => new Array<number>(nStrata).fill(0));
  groups.forEach((g, i) => g.areas.forEach((a, c) => (area[assignment[i]!]![c]! += a)));
  return area;
}

/** Largest groups first (by their share of the strata), each to the part that lacks most of what it brings. */
function greedyDeal(
  groups: readonly SplitGroup[],
  parts: readonly PartTarget[],
  perPart: number[],
  totals: number[],
  order: number[],
  out: number[],
): void {
  const mass = (g: SplitGroup) => g.areas.reduce((s, a, c) => s + (totals[c]! > 0 ? a / totals[c]! : 0), 0);
  const byMass = [...order].sort((a, b) => mass(groups[b]!) - mass(groups[a]!));
  const left = [...perPart];
  const share = parts.map(() => new Array<number>(totals.length).fill(0));
  for (const gi of byMass) {
    const g = groups[gi]!;
    const m = mass(g);
    let best = -1;
    let bestScore = -Infinity;
    parts.forEach((p, pi) => {
      if (left[pi]! <= 0) return;
      // Relative deficit of the part, weighted by how much of each stratum the group carries.
      const score =
        m > 0
          ? g.areas.reduce(
              (s, a, c) => s + (totals[c]! > 0 ? ((a / totals[c]! / m) * (p.ratio - share[pi]![c]!)) / p.ratio : 0),
              0,
            )
          : left[pi]! / perPart[pi]!;
      if (score > bestScore + EPSILON) [best, bestScore] = [pi, score];
    });
    out[gi] = best;
    left[best]!--;
    g.areas.forEach((a, c) => (share[best]![c]! += totals[c]! > 0 ? a / totals[c]! : 0));
  }
}

/** Swaps two groups of different parts while that lowers the sum of squared relative share errors. */
function improveBySwaps(
  groups: readonly SplitGroup[],
  parts: readonly PartTarget[],
  totals: number[],
  order: number[],
  out: number[],
): void {
  const nS = totals.length;
  const share = achievedShares(groups, out, parts.length);
  const frac = groups.map((g) => g.areas.map((a, c) => (totals[c]! > 0 ? a / totals[c]! : 0)));
  const err = (pi: number, c: number, s: number) =>
    totals[c]! > 0 && parts[pi]!.ratio > 0 ? ((s - parts[pi]!.ratio) / parts[pi]!.ratio) ** 2 : 0;
  for (let pass = 0; pass < MAX_SWAP_PASSES; pass++) {
    let improved = false;
    for (let x = 0; x < order.length; x++) {
      for (let y = x + 1; y < order.length; y++) {
        const a = order[x]!;
        const b = order[y]!;
        const pa = out[a]!;
        const pb = out[b]!;
        if (pa === pb) continue;
        let delta = 0;
        for (let c = 0; c < nS; c++) {
          const d = frac[b]![c]! - frac[a]![c]!;
          if (d === 0) continue;
          delta +=
            err(pa, c, share[pa]![c]! + d) -
            err(pa, c, share[pa]![c]!) +
            err(pb, c, share[pb]![c]! - d) -
            err(pb, c, share[pb]![c]!);
        }
        if (delta < -EPSILON) {
          for (let c = 0; c < nS; c++) {
            const d = frac[b]![c]! - frac[a]![c]!;
            share[pa]![c]! += d;
            share[pb]![c]! -= d;
          }
          out[a] = pb;
          out[b] = pa;
          improved = true;
        }
      }
    }
    if (!improved) return;
  }
}
