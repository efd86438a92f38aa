/**
 * A split request + the served index (+ the manifest's slide attributes) -> a Split document, and
 * a split selector of /samples and /batches -> the slide ids it allows. The assignment itself is
 * the pure src/splits/assign.ts.
 */
import { selectClasses } from '../dataset/taxonomy.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import type { Schemas } from '../http/types.js';
import {
  achievedShares,
  assignGroups,
  partTargets,
  SHARE_TOLERANCE,
  strataTotals,
  withinTolerance,
  type PartTarget,
  type SplitGroup,
} from './assign.js';
import type { Split, SplitStore } from './store.js';

export type SplitRequest = Schemas['SplitRequest'];
export type SplitSelector = NonNullable<Schemas['SampleRequest']['split']>;
export type SlideAttributes = Record<string, Record<string, string>>;

/** Ratios may miss 1 by rounding in the client's arithmetic (0.7 + 0.2 + 0.1), not by more. */
const RATIO_SUM_SLACK = 1e-6;

/** The request with its defaults, as stored: equal definitions are the same split. */
export function splitDefinition(req: SplitRequest): string {
  const methods = [req.ratios, req.folds, req.adopt].filter((m) => m !== undefined).length;
  if (methods !== 1) throw new AppError(400, 'VALIDATION_FAILED', 'give exactly one of ratios, folds or adopt');
  if (req.ratios) {
    const sum = req.ratios.train + req.ratios.val + req.ratios.test;
    if (Math.abs(sum - 1) > RATIO_SUM_SLACK)
      throw new AppError(400, 'RATIOS_NOT_ONE', `ratios must sum to 1 (train + val + test = ${sum})`);
  }
  if (req.adopt !== undefined && (req.groupBy ?? 'slide') !== 'slide')
    throw new AppError(400, 'VALIDATION_FAILED', 'adopt takes the parts from the attribute: groupBy does not apply');
  const { name, seed = 0, ratios, folds, adopt, stratify = [], groupBy = 'slide' } = req;
  return JSON.stringify({ name, seed, ratios, folds, adopt, stratify, groupBy });
}

/** Makes the split over the slides that can be served (status ok), sorted by id. */
export function makeSplit(g: Generation, req: SplitRequest, attributes: SlideAttributes, now: Date): Split {
  splitDefinition(req);
  const seed = req.seed ?? 0;
  const groupBy = req.groupBy ?? 'slide';
  const stratify = (req.stratify ?? []).map(String);
  const strata = stratify.map((sel) => {
    const { values, unknown } = selectClasses(g.taxonomy, [sel]);
    if (unknown.length > 0)
      throw new AppError(
        400,
        'UNKNOWN_CLASS',
        `stratify: not a class or category of the taxonomy: ${unknown.join(', ')}`,
      );
    return values;
  });
  const slides = g.catalogue
    .listSlides({ classValues: null, status: 'ok', limit: g.catalogue.slideCount(), offset: 0 })
    .rows.map((s) => s.id);
  if (slides.length === 0) throw new AppError(422, 'NO_SLIDES', 'the dataset has no servable slide to split');
  const areas = slideAreas(g, slides);
  const useUm2 = [...areas.values()].every((a) => a.um2Known);
  const stratumArea = (id: string) =>
    strata.map((vs) => vs.reduce((s, v) => s + ((useUm2 ? areas.get(id)!.um2 : areas.get(id)!.l0).get(v) ?? 0), 0));
  const keyOf = (id: string, attr: string) => {
    const v = attributes[id]?.[attr];
    if (v === undefined) throw missingAttribute(slides, attributes, attr);
    return v;
  };
  let parts: PartTarget[];
  let partOfSlide: (id: string) => number;
  let groupOfSlide: (id: string) => string;
  if (req.adopt !== undefined) {
    const values = [...new Set(slides.map((id) => keyOf(id, req.adopt!)))].sort();
    parts = values.map((name) => ({ name, ratio: 0 }));
    partOfSlide = (id) => values.indexOf(keyOf(id, req.adopt!));
    groupOfSlide = (id) => id;
  } else {
    groupOfSlide = groupBy === 'slide' ? (id) => id : (id) => keyOf(id, groupBy);
    const keys = [...new Set(slides.map(groupOfSlide))].sort();
    if (req.folds !== undefined && req.folds > keys.length) {
      throw new AppError(
        422,
        'TOO_MANY_FOLDS',
        `${req.folds} folds need at least ${req.folds} groups; grouping by ${groupBy} gives ${keys.length}`,
      );
    }
    parts = partTargets(req);
    const groups: SplitGroup[] = keys.map((key) => ({
      key,
      areas: sumAreas(slides.filter((id) => groupOfSlide(id) === key).map(stratumArea), strata.length),
    }));
    const assigned = assignGroups(groups, parts, seed);
    const partOfGroup = new Map(keys.map((k, i) => [k, assigned[i]!]));
    partOfSlide = (id) => partOfGroup.get(groupOfSlide(id))!;
  }
  const slideParts = slides.map(partOfSlide);
  const bySlide: SplitGroup[] = slides.map((id) => ({ key: id, areas: stratumArea(id) }));
  const shares = achievedShares(bySlide, slideParts, parts.length);
  const totals = strataTotals(bySlide);
  const name = (v: number) => g.taxonomy.find((c) => c.value === v)?.name ?? String(v);
  const out: Split = {
    name: req.name,
    datasetVersion: g.datasetVersion,
    seed,
    groupBy,
    ...(req.ratios ? { ratios: { ...req.ratios } } : {}),
    ...(req.folds !== undefined ? { folds: req.folds } : {}),
    ...(req.adopt !== undefined ? { adopt: req.adopt } : {}),
    stratify,
    tolerance: SHARE_TOLERANCE,
    withinTolerance: req.adopt !== undefined || strata.length === 0 ? null : withinTolerance(shares, parts, totals),
    createdAt: now.toISOString(),
    parts: {},
  };
  parts.forEach((p, pi) => {
    const ids = slides.filter((_, i) => slideParts[i] === pi);
    const classes: Record<string, number> = {};
    for (const id of ids)
      for (const [v, a] of areas.get(id)!.um2) if (v !== 0) classes[name(v)] = (classes[name(v)] ?? 0) + a;
    out.parts[p.name] = {
      ...(req.adopt === undefined ? { ratio: p.ratio } : {}),
      slides: ids,
      groups: [...new Set(ids.map(groupOfSlide))].sort(),
      classes,
      shares: Object.fromEntries(stratify.map((s, c) => [s, shares[pi]![c]!])),
    };
  });
  return out;
}

/**
 * The slide ids a /samples or /batches request may draw from: one part of a stored split made on
 * the dataset version being served (a split of another version: 409 naming both).
 */
export function splitSlides(store: SplitStore, g: Generation, sel: SplitSelector): Set<string> {
  const found = store.get(sel.name);
  if (!found) throw new AppError(404, 'SPLIT_NOT_FOUND', `no split named "${sel.name}"`);
  const { split } = found;
  if (split.datasetVersion !== g.datasetVersion) {
    throw new AppError(
      409,
      'SPLIT_VERSION_MISMATCH',
      `split "${split.name}" was made on dataset version ${split.datasetVersion}; the service now serves ${g.datasetVersion}: make the split again`,
    );
  }
  const given = [sel.part, sel.fold, sel.notFold].filter((x) => x !== undefined).length;
  if (given !== 1) throw new AppError(400, 'VALIDATION_FAILED', 'split: give exactly one of part, fold or notFold');
  const names = Object.keys(split.parts);
  if (sel.part !== undefined) {
    const part = split.parts[sel.part];
    if (!part)
      throw new AppError(
        422,
        'UNKNOWN_PART',
        `split "${split.name}" has no part "${sel.part}" (its parts: ${names.join(', ')})`,
      );
    return new Set(part.slides);
  }
  const k = (sel.fold ?? sel.notFold)!;
  if (split.folds === undefined)
    throw new AppError(
      422,
      'NOT_FOLDS',
      `split "${split.name}" has no folds (its parts: ${names.join(', ')}): use part`,
    );
  if (k >= split.folds)
    throw new AppError(422, 'UNKNOWN_PART', `split "${split.name}" has folds 0..${split.folds - 1}, not ${k}`);
  const want = (n: string) => (sel.fold !== undefined ? n === `fold${k}` : n !== `fold${k}`);
  return new Set(names.filter(want).flatMap((n) => split.parts[n]!.slides));
}

interface SlideArea {
  um2: Map<number, number>;
  l0: Map<number, number>;
  um2Known: boolean;
}

function slideAreas(g: Generation, slides: string[]): Map<string, SlideArea> {
  const out = new Map(
    slides.map((id): [string, SlideArea] => [
      id,
      { um2: new Map(), l0: new Map(), um2Known: g.slide(id).mpp_x !== null },
    ]),
  );
  for (const r of g.catalogue.classAreas(slides)) {
    const a = out.get(r.slide_id)!;
    a.l0.set(r.value, r.area_l0);
    a.um2.set(r.value, r.area_um2 ?? 0);
  }
  return out;
}

function sumAreas(rows: number[][], n: number): number[] {
  const out = new Array<number>(n).fill(0);
  for (const r of rows) r.forEach((a, c) => (out[c]! += a));
  return out;
}

function missingAttribute(slides: string[], attributes: SlideAttributes, attr: string): AppError {
  const missing = slides.filter((id) => attributes[id]?.[attr] === undefined);
  return new AppError(
    422,
    'ATTRIBUTE_MISSING',
    `the manifest's slideAttributes give no "${attr}" for ${missing.length} slide(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
  );
}
