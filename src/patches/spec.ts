/**
 * A /samples or /batches body -> a checked SampleSpec. The body is validated against the
 * SampleRequest schema of openapi.yaml itself (compiled once with ajv), then resolved against
 * the index: class selectors, slides, region geometry, patch size in level-0 pixels.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { SlideRow } from '../catalogue/repo.js';
import type { TaxonomyClass } from '../dataset/taxonomy.js';
import { OPENAPI_PATH } from '../docs/routes.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import type { Schemas } from '../http/types.js';
import { isTissueValue, selectWithTissue } from '../tissue/selectors.js';
import { bodyErrorMessages } from './body-errors.js';
import type { ScaleAsk } from './scales/geometry.js';
import { requestScales, scaleProblem } from './scales/request.js';

export type SampleRequest = Schemas['SampleRequest'];

export interface SampleSpec {
  targets: number[];
  /**
   * Class value -> model index: the position in the request's `classes` of the first entry that
   * selects the class (a category's classes share its index).
   */
  classIndex: Map<number, number>;
  /** The request's `classes`, as given: what classIndex indexes. */
  classSelectors: Array<string | number>;
  weights: number[] | null;
  balance: 'classes' | 'slides' | 'classes-per-slide';
  criterion: 'fraction' | 'center';
  minFraction: number;
  regionBox: { x: number; y: number; width: number; height: number } | null;
  /** Rings of the request's polygon (level-0 pixels), or null; the sampler indexes them (it yields while it does). */
  regionRings: Float64Array[] | null;
  within: { values: number[]; minFraction: number } | null;
  exclude: { values: number[]; maxFraction: number } | null;
  /** region.near: patch centres at outsideUm..withinUm from the nearest pixel of these class values (sorted). */
  near: { values: number[]; outsideUm: number; withinUm: number } | null;
  size: number;
  level: number | null;
  mpp: number | null;
  /**
   * The request's scales (1-4), or null for a single-scale request. size, level, mpp and sizeL0
   * are then the first scale's: it is the one the sampler draws and checks the criterion on.
   */
  scales: ScaleAsk[] | null;
  /** Side of the patch in level-0 pixels on a slide. */
  sizeL0(s: SlideRow): number;
  sizeLabel: string;
  count: number;
  seed: number;
  epoch: number;
  shard: number;
  shards: number;
  /** Indices are dealt to shards in blocks of this many (see shardIndices). */
  blockSize: number;
  /** Position within the shard of the first patch to draw (resuming a stream). */
  start: number;
  /** The most patches to draw from `start` on (null: the rest of the shard). */
  limit: number | null;
  format: 'jpeg' | 'png' | 'webp' | 'raw' | 'npy';
  /** The request names `tissue` or `unlabelled-tissue` somewhere: fractions then include them. */
  tissue: boolean;
}

// verbose: errors carry their schema, so a message can name the fields a misspelt one may have meant.
const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });
const openapi = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as { components: unknown };
ajv.addSchema({ $id: 'openapi', components: openapi.components });
const validateBody = ajv.compile<SampleRequest>({ $ref: 'openapi#/components/schemas/SampleRequest' });

/** The slide ids one part of a stored split allows (src/splits/build.ts), or a problem. */
export type SplitResolver = (sel: NonNullable<SampleRequest['split']>) => ReadonlySet<string>;

/** `maxRegionVertices` bounds the region polygon (config MAX_REGION_VERTICES). */
export function parseSampleRequest(
  body: unknown,
  g: Generation,
  maxRegionVertices: number,
  resolveSplit?: SplitResolver,
): { spec: SampleSpec; slides: SlideRow[] } {
  const req = checkSampleBody(body);
  if (req.shard! >= req.shards!)
    throw new AppError(400, 'VALIDATION_FAILED', `shard must be below shards (${req.shards})`);
  if (req.level !== undefined && req.mpp !== undefined)
    throw new AppError(400, 'VALIDATION_FAILED', 'give level or mpp, not both');
  const targets = classes(g.taxonomy, req.classes, 'classes').filter((v) => v !== 0);
  if (targets.length === 0)
    throw new AppError(400, 'VALIDATION_FAILED', 'classes must name at least one labelled class (not 0 / unlabelled)');
  const weights = req.weights ? expandWeights(g.taxonomy, req.classes, req.weights) : null;
  const scales = requestScales(body as object, req.scales);
  const first = scales?.[0];
  const level = first ? first.level : req.mpp === undefined ? (req.level ?? 0) : null;
  const mpp = first ? first.mpp : (req.mpp ?? null);
  const allowed = req.split ? (resolveSplit ?? noSplits)(req.split) : null;
  const tissueField = tissueFieldOf(g.taxonomy, req);
  if (tissueField !== null && req.region?.near)
    throw new AppError(
      400,
      'VALIDATION_FAILED',
      `${tissueField} names a tissue selector: region.near cannot be combined with tissue selectors yet (distances are measured on the label raster)`,
    );
  // With scales, every scale's resolution is checked (its problems name the scale's field).
  const chosen = scales
    ? chooseSlides(g, req.slides, null, null, allowed, tissueField, (s) => firstScaleProblem(g, s, scales))
    : chooseSlides(g, req.slides, level, mpp, allowed, tissueField);
  const slides = req.region?.near ? slidesWithMpp(chosen, (req.slides?.length ?? 0) > 0) : chosen;
  const size = first ? first.size : req.size!;
  const spec: SampleSpec = {
    targets,
    classIndex: classIndexOf(g.taxonomy, req.classes),
    classSelectors: [...req.classes],
    weights,
    balance: req.balance!,
    criterion: req.criterion!,
    minFraction: req.minFraction!,
    regionBox: null,
    regionRings: null,
    within: null,
    exclude: excludeOf(g.taxonomy, req.exclude),
    near: nearOf(g.taxonomy, req.region?.near),
    size,
    level,
    mpp,
    scales,
    sizeL0: memo((s) =>
      level !== null ? size * g.catalogue.levels(s.id)[level]!.downsample : (size * mpp!) / s.mpp_x!,
    ),
    sizeLabel: level !== null ? `${size} px level-${level}` : `${size} px ${mpp} um/px`,
    count: req.count!,
    seed: req.seed!,
    epoch: req.epoch!,
    shard: req.shard!,
    shards: req.shards!,
    blockSize: req.blockSize ?? 1,
    start: req.start ?? 0,
    limit: req.limit ?? null,
    format: req.format!,
    tissue: tissueField !== null,
  };
  applyRegion(spec, g.taxonomy, req.region, maxRegionVertices);
  return { spec, slides };
}

/** The body checked against the SampleRequest schema (defaults filled in), or a 400 naming each bad field. */
export function checkSampleBody(body: unknown): SampleRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError(400, 'VALIDATION_FAILED', 'the body must be a JSON object');
  const req = { ...body } as SampleRequest; // shallow: structuredClone recursed on 5,000-deep bodies (RangeError, a 500)
  if (!validateBody(req))
    throw new AppError(400, 'VALIDATION_FAILED', bodyErrorMessages(validateBody.errors ?? []).join('; '));
  return req;
}

function noSplits(): never {
  throw new AppError(422, 'SPLITS_UNAVAILABLE', 'this service keeps no splits');
}

/** Per-slide values computed once per request (the sampler asks for every candidate patch). */
function memo(fn: (s: SlideRow) => number): (s: SlideRow) => number {
  const cache = new Map<string, number>();
  return (s) => {
    let v = cache.get(s.id);
    if (v === undefined) cache.set(s.id, (v = fn(s)));
    return v;
  };
}

function classes(
  taxonomy: readonly TaxonomyClass[],
  selectors: ReadonlyArray<string | number>,
  field: string,
): number[] {
  const { values, unknown } = selectWithTissue(taxonomy, selectors);
  if (unknown.length > 0)
    throw new AppError(
      400,
      'UNKNOWN_CLASS',
      `${field}: not a class or category of the taxonomy, nor tissue or unlabelled-tissue: ${unknown.slice(0, 5).join(', ')}`,
    );
  return values;
}

/** Each class's position in the request's `classes`: the first entry that selects it. */
export function classIndexOf(
  taxonomy: readonly TaxonomyClass[],
  selectors: ReadonlyArray<string | number>,
): Map<number, number> {
  const out = new Map<number, number>();
  selectors.forEach((sel, i) => {
    for (const v of selectWithTissue(taxonomy, [sel]).values) if (!out.has(v)) out.set(v, i);
  });
  return out;
}

/** A weight given for a category applies to each of its classes. */
function expandWeights(
  taxonomy: readonly TaxonomyClass[],
  selectors: ReadonlyArray<string | number>,
  weights: number[],
): number[] {
  if (weights.length !== selectors.length)
    throw new AppError(
      400,
      'VALIDATION_FAILED',
      `weights must have one entry per entry of classes (${selectors.length})`,
    );
  const out = new Map<number, number>();
  selectors.forEach((sel, i) => classes(taxonomy, [sel], 'classes').forEach((v) => out.set(v, weights[i]!)));
  const values = classes(taxonomy, selectors, 'classes').filter((v) => v !== 0);
  if (!values.some((v) => out.get(v)! > 0))
    throw new AppError(400, 'VALIDATION_FAILED', 'at least one weight must be above 0');
  return values.map((v) => out.get(v)!);
}

/**
 * Slides named in the request must all serve the resolution asked (else a 422 naming the slide);
 * without names, the labelled slides that can serve it are used.
 */
function chooseSlides(
  g: Generation,
  ids: string[] | undefined,
  level: number | null,
  mpp: number | null,
  allowed: ReadonlySet<string> | null,
  tissueField: string | null,
  extraProblem: (s: SlideRow) => AppError | null = () => null,
): SlideRow[] {
  if (ids && ids.length > 0) {
    const named = [...new Set(ids)].map((id) => g.readableSlide(id));
    const outside = allowed ? named.filter((s) => !allowed.has(s.id)) : [];
    // Naming a slide of another part would leak it into this one: refuse rather than drop it silently.
    if (outside.length > 0)
      throw new AppError(
        422,
        'SLIDE_NOT_IN_SPLIT',
        `slides not in the requested part of the split: ${outside
          .slice(0, 5)
          .map((s) => s.id)
          .join(', ')}`,
      );
    for (const s of named) {
      const why = resolutionProblem(g, s, level, mpp) ?? extraProblem(s);
      if (why) throw why;
      if (tissueField !== null) g.tissue.require(s, tissueField);
    }
    return named;
  }
  const all = g.catalogue.listSlides({ classValues: null, status: 'ok', limit: 100_000, offset: 0 }).rows;
  // Tissue makes slides without labels usable (Camelyon16's normal slides: negatives).
  const withTissue = tissueField === null ? [] : all.filter((s) => g.tissue.raster(s) !== null);
  if (tissueField !== null && withTissue.length === 0 && all.length > 0) g.tissue.require(all[0]!, tissueField);
  const labelled = (tissueField === null ? all.filter((s) => s.label_downsample !== null) : withTissue).filter(
    (s) => !allowed || allowed.has(s.id),
  );
  const problem = (s: SlideRow) => resolutionProblem(g, s, level, mpp) ?? extraProblem(s);
  const usable = labelled.filter((s) => problem(s) === null);
  // When no labelled slide serves the resolution, say why rather than "class not present".
  if (usable.length === 0 && labelled.length > 0) throw problem(labelled[0]!)!;
  return usable;
}

/** The first request field naming a tissue selector (for problems), or null when none does. */
function tissueFieldOf(taxonomy: readonly TaxonomyClass[], req: SampleRequest): string | null {
  const named = (field: string, sel: ReadonlyArray<string | number> | undefined) =>
    sel && selectWithTissue(taxonomy, sel).values.some(isTissueValue) ? field : null;
  return (
    named('classes', req.classes) ??
    named('exclude.classes', req.exclude?.classes) ??
    named('exclude.categories', req.exclude?.categories) ??
    named(
      'region.within',
      req.region?.within?.filter((w) => w !== 'labelled'),
    )
  );
}

function resolutionProblem(g: Generation, s: SlideRow, level: number | null, mpp: number | null): AppError | null {
  const levels = g.catalogue.levels(s.id).length;
  if (level !== null && level >= levels)
    return new AppError(422, 'LEVEL_OUT_OF_RANGE', `slide "${s.id}" has levels 0..${levels - 1}, not ${level}`);
  if (mpp !== null && s.mpp_x === null)
    return new AppError(422, 'MPP_UNKNOWN', `slide "${s.id}" does not say its resolution: sample it by level`);
  if (mpp !== null && mpp < s.mpp_x! * 0.999)
    return new AppError(422, 'MPP_TOO_FINE', `slide "${s.id}" is scanned at ${s.mpp_x} um/px: ${mpp} would upsample`);
  return null;
}

/** region.near -> class values and band; the band's ends are checked here (the schema bounds each alone). */
function nearOf(
  taxonomy: readonly TaxonomyClass[],
  near: NonNullable<SampleRequest['region']>['near'],
): SampleSpec['near'] {
  if (!near) return null;
  const values = classes(taxonomy, near.classes, 'region.near.classes').filter((v) => v !== 0);
  if (values.some(isTissueValue))
    throw new AppError(
      400,
      'VALIDATION_FAILED',
      'region.near.classes: distances are measured to label classes; tissue selectors are not accepted there',
    );
  if (values.length === 0)
    throw new AppError(
      400,
      'VALIDATION_FAILED',
      'region.near.classes must name at least one labelled class (not 0 / unlabelled)',
    );
  const outsideUm = near.outsideUm ?? 0;
  if (near.withinUm < outsideUm)
    throw new AppError(
      400,
      'VALIDATION_FAILED',
      `region.near.withinUm (${near.withinUm}) must be at least region.near.outsideUm (${outsideUm})`,
    );
  return { values: [...new Set(values)].sort((a, b) => a - b), outsideUm, withinUm: near.withinUm };
}

/** Distances are in um: slides named without a resolution are a 422, unnamed ones are left out. */
function slidesWithMpp(slides: SlideRow[], named: boolean): SlideRow[] {
  const without = slides.filter((s) => s.mpp_x === null);
  if (named && without.length > 0)
    throw new AppError(
      422,
      'MPP_UNKNOWN',
      `slide "${without[0]!.id}" does not say its resolution: region.near measures distances in um`,
    );
  return slides.filter((s) => s.mpp_x !== null);
}

/** The first scale a slide cannot serve, by resolution (source sizes are checked per request: routes.ts). */
function firstScaleProblem(g: Generation, s: SlideRow, scales: readonly ScaleAsk[]): AppError | null {
  for (let k = 0; k < scales.length; k++) {
    const why = scaleProblem(g, s, scales[k]!, k, Infinity);
    if (why) return why;
  }
  return null;
}

function excludeOf(taxonomy: readonly TaxonomyClass[], ex: SampleRequest['exclude']): SampleSpec['exclude'] {
  if (!ex || ((ex.classes?.length ?? 0) === 0 && (ex.categories?.length ?? 0) === 0)) return null;
  const values = [
    ...classes(taxonomy, ex.classes ?? [], 'exclude.classes'),
    ...classes(taxonomy, ex.categories ?? [], 'exclude.categories'),
  ];
  return { values: [...new Set(values)], maxFraction: ex.maxFraction ?? 0 };
}

function applyRegion(
  spec: SampleSpec,
  taxonomy: readonly TaxonomyClass[],
  region: SampleRequest['region'],
  maxVertices: number,
): void {
  if (!region) return;
  if (region.rect) spec.regionBox = { ...region.rect };
  if (region.polygon) {
    const rings = polygonRings(region.polygon, maxVertices);
    spec.regionRings = rings;
    const b = bounds(rings);
    spec.regionBox = spec.regionBox ? intersect(spec.regionBox, b) : b;
  }
  if (spec.regionBox && (spec.regionBox.width <= 0 || spec.regionBox.height <= 0))
    throw new AppError(422, 'EMPTY_REGION', 'the region is empty');
  if (region.within && region.within.length > 0) {
    const labelled = region.within.some((w) => w === 'labelled');
    const rest = region.within.filter((w) => w !== 'labelled');
    const values = labelled ? taxonomy.filter((c) => c.value !== 0).map((c) => c.value) : [];
    spec.within = {
      values: [...new Set([...values, ...classes(taxonomy, rest, 'region.within')])],
      minFraction: region.withinFraction ?? 1,
    };
  }
}

function polygonRings(geom: NonNullable<SampleRequest['region']>['polygon'], maxVertices: number): Float64Array[] {
  const bad = (why: string) => new AppError(400, 'INVALID_GEOJSON', `region.polygon ${why}`);
  const polys = (geom!.type === 'Polygon' ? [geom!.coordinates] : geom!.coordinates) as unknown[];
  const rings: Float64Array[] = [];
  let vertices = 0;
  for (const poly of polys) {
    if (!Array.isArray(poly)) throw bad('coordinates do not nest as GeoJSON requires');
    for (const ring of poly) {
      if (!Array.isArray(ring) || ring.length < 4) throw bad('rings need at least 4 positions (closed)');
      vertices += ring.length;
      if (vertices > maxVertices)
        throw new AppError(413, 'TOO_MANY_VERTICES', `region.polygon has more than ${maxVertices} vertices`);
      const flat = new Float64Array(ring.length * 2);
      ring.forEach((p: unknown, i: number) => {
        if (!Array.isArray(p) || p.length < 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1]))
          throw bad('positions must be [x, y] numbers');
        flat[2 * i] = p[0] as number;
        flat[2 * i + 1] = p[1] as number;
      });
      rings.push(flat);
    }
  }
  if (rings.length === 0) throw bad('has no rings');
  return rings;
}

function bounds(rings: Float64Array[]): { x: number; y: number; width: number; height: number } {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const r of rings) {
    for (let i = 0; i < r.length; i += 2) {
      x0 = Math.min(x0, r[i]!);
      x1 = Math.max(x1, r[i]!);
      y0 = Math.min(y0, r[i + 1]!);
      y1 = Math.max(y1, r[i + 1]!);
    }
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function intersect(a: SampleSpec['regionBox'] & object, b: SampleSpec['regionBox'] & object) {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  return {
    x,
    y,
    width: Math.min(a.x + a.width, b.x + b.width) - x,
    height: Math.min(a.y + a.height, b.y + b.height) - y,
  };
}
