/**
 * The dataset manifest (`manifest.json` at the data directory's root): name and version, the
 * taxonomy, the raster resolution for vector labels, and the label sources in painting order.
 * A data directory without one gets the default taxonomy and no label sources, so a plain
 * Camelyon16 download can be browsed before its annotations are described.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ObjectStore } from '../storage/store.js';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { invalidInput } from '../errors.js';
import defaultTaxonomy from './default-taxonomy.json' with { type: 'json' };
import { TISSUE_SELECTORS } from '../tissue/selectors.js';
import { parseHexColor, type TaxonomyClass } from './taxonomy.js';

export type LabelFormat = 'asap-xml' | 'geojson' | 'label-mask' | 'color-mask';

export interface LabelSourceSpec {
  id: string;
  format: LabelFormat;
  /** Directory relative to the data directory. */
  dir: string;
  /** Stripped from file stems before matching slides, e.g. `_mask`. */
  suffix: string;
  /** Level-0 pixels per mask pixel (masks only). */
  downsample: number | null;
  /** Group / classification name in the files -> taxonomy class name, or null for a hole. */
  classMap: Record<string, string | null>;
  /** Colour mask palette: #rrggbb -> class name (defaults to the taxonomy colours). */
  palette: Record<string, string> | null;
  /**
   * Colour masks only: how far (largest per-channel difference, 0-255) a pixel's colour may be
   * from a palette colour and still take its class, for masks saved lossily (JPEG). 0 = exact.
   */
  tolerance: number;
}

export interface Manifest {
  name: string;
  version: string;
  description: string;
  slidesDir: string;
  extensions: string[];
  taxonomy: TaxonomyClass[];
  /** Level-0 pixels per label-raster pixel for vector labels (masks keep their own, if finer). */
  labelDownsample: number;
  labelSources: LabelSourceSpec[];
  /** Digest of everything above: part of every slide's input key. */
  hash: string;
  /**
   * Per slide id (lower case): attributes such as `centre` or the authors' `split`, used by
   * splits (groupBy, adopt). Outside the hash: they change no pixel or label, so no re-ingest.
   */
  slideAttributes: Record<string, Record<string, string>>;
}

export const MANIFEST_FILE = 'manifest.json';
/** ~1 um per label pixel at Camelyon16's 0.24 um/px: finer than any context annotation. */
export const DEFAULT_LABEL_DOWNSAMPLE = 4;
const DEFAULT_EXTENSIONS = ['.tif', '.tiff', '.svs'];

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    version: { type: 'string', minLength: 1, maxLength: 100 },
    description: { type: 'string', maxLength: 10_000 },
    slides: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: { type: 'string' },
        extensions: { type: 'array', items: { type: 'string', pattern: '^\\.[A-Za-z0-9]+$' } },
      },
    },
    taxonomy: {
      type: 'array',
      minItems: 1,
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['value', 'name', 'color'],
        properties: {
          value: { type: 'integer', minimum: 0, maximum: 255 },
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$' },
          category: { type: ['string', 'null'], pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' },
          color: { type: 'string', pattern: '^#[0-9A-Fa-f]{6}$' },
          description: { type: 'string' },
        },
      },
    },
    labelDownsample: { type: 'number', minimum: 1, maximum: 256 },
    slideAttributes: {
      type: 'object',
      maxProperties: 100_000,
      additionalProperties: {
        type: 'object',
        maxProperties: 64,
        additionalProperties: { type: 'string', maxLength: 200 },
      },
    },
    labelSources: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'format', 'dir'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
          format: { enum: ['asap-xml', 'geojson', 'label-mask', 'color-mask'] },
          dir: { type: 'string', minLength: 1 },
          suffix: { type: 'string' },
          downsample: { type: 'number', minimum: 1, maximum: 4096 },
          classMap: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
          palette: { type: 'object', additionalProperties: { type: 'string' } },
          tolerance: { type: 'integer', minimum: 0, maximum: 127 },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile(schema);

export function loadManifest(dataDir: string): Manifest {
  const path = join(dataDir, MANIFEST_FILE);
  if (!existsSync(path)) return defaultManifest(dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw invalidInput('MANIFEST_MALFORMED', `${MANIFEST_FILE} is not valid JSON: ${(e as Error).message}`);
  }
  return parseManifest(raw);
}

/** Largest manifest read from a store (a real one is a few KB; slide attributes of thousands fit). */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** The manifest of a dataset in an object store (storage/store.ts); the same rules as a directory's. */
export async function loadManifestFrom(store: ObjectStore): Promise<Manifest> {
  const body = await store.get(MANIFEST_FILE, MAX_MANIFEST_BYTES);
  if (!body) {
    const slidesDir = (await store.list('slides')).length > 0 ? 'slides' : '.';
    return parseManifest({ name: 'unnamed-dataset', version: 'unversioned', slides: { dir: slidesDir } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw invalidInput('MANIFEST_MALFORMED', `${MANIFEST_FILE} is not valid JSON: ${(e as Error).message}`);
  }
  return parseManifest(raw);
}

export function parseManifest(raw: unknown): Manifest {
  if (!validate(raw)) {
    const why = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
    throw invalidInput('MANIFEST_INVALID', `${MANIFEST_FILE}: ${why}`);
  }
  const m = raw as ManifestJson;
  const taxonomy = withUnlabelled(m.taxonomy ?? (defaultTaxonomy as TaxonomyClass[]));
  checkTaxonomy(taxonomy);
  const sources = (m.labelSources ?? []).map((s): LabelSourceSpec => ({
    id: s.id,
    format: s.format,
    dir: s.dir,
    suffix: s.suffix ?? '',
    downsample: s.downsample ?? null,
    classMap: s.classMap ?? {},
    palette: s.palette ?? null,
    tolerance: s.tolerance ?? 0,
  }));
  checkSources(sources, taxonomy);
  const base = {
    name: m.name ?? 'unnamed-dataset',
    version: m.version ?? 'unversioned',
    description: m.description ?? '',
    slidesDir: m.slides?.dir ?? 'slides',
    extensions: (m.slides?.extensions ?? DEFAULT_EXTENSIONS).map((e) => e.toLowerCase()),
    taxonomy,
    labelDownsample: m.labelDownsample ?? DEFAULT_LABEL_DOWNSAMPLE,
    labelSources: sources,
  };
  const slideAttributes = Object.fromEntries(
    Object.entries(m.slideAttributes ?? {}).map(([id, a]) => [id.toLowerCase(), a]),
  );
  return { ...base, hash: createHash('sha256').update(JSON.stringify(base)).digest('hex'), slideAttributes };
}

type ManifestJson = {
  name?: string;
  version?: string;
  description?: string;
  slides?: { dir?: string; extensions?: string[] };
  taxonomy?: TaxonomyClass[];
  labelDownsample?: number;
  slideAttributes?: Record<string, Record<string, string>>;
  labelSources?: Array<
    Omit<LabelSourceSpec, 'suffix' | 'downsample' | 'classMap' | 'palette' | 'tolerance'> & Partial<LabelSourceSpec>
  >;
};

function defaultManifest(dataDir: string): Manifest {
  const slidesDir =
    existsSync(join(dataDir, 'slides')) && statSync(join(dataDir, 'slides')).isDirectory() ? 'slides' : '.';
  return parseManifest({ name: 'unnamed-dataset', version: 'unversioned', slides: { dir: slidesDir } });
}

/** Value 0 is "unlabelled" in every mask format; add it when a taxonomy leaves it implicit. */
function withUnlabelled(taxonomy: TaxonomyClass[]): TaxonomyClass[] {
  const list = taxonomy.map((c) => ({ ...c, category: c.category ?? null }));
  if (list.some((c) => c.value === 0)) return list;
  return [{ value: 0, name: 'unlabelled', category: null, color: '#000000' }, ...list];
}

function checkTaxonomy(taxonomy: TaxonomyClass[]): void {
  const dup = (xs: (string | number)[]) => xs.find((x, i) => xs.indexOf(x) !== i);
  const v = dup(taxonomy.map((c) => c.value));
  if (v !== undefined) throw invalidInput('MANIFEST_INVALID', `taxonomy value ${v} is declared twice`);
  const n = dup(taxonomy.map((c) => c.name.toLowerCase()));
  if (n !== undefined) throw invalidInput('MANIFEST_INVALID', `taxonomy class "${n}" is declared twice`);
  const builtin = taxonomy.find((c) =>
    [c.name, c.category ?? ''].some((x) => TISSUE_SELECTORS[x.trim().toLowerCase()] !== undefined),
  );
  if (builtin)
    throw invalidInput(
      'MANIFEST_INVALID',
      `taxonomy class "${builtin.name}"${builtin.category ? ` (category "${builtin.category}")` : ''}: "tissue" and "unlabelled-tissue" are built-in selectors of the detected tissue, not class or category names: rename it`,
    );
  const zero = taxonomy.find((c) => c.value === 0);
  if (zero && zero.category !== null)
    throw invalidInput('MANIFEST_INVALID', 'value 0 means unlabelled and cannot have a category');
}

function checkSources(sources: LabelSourceSpec[], taxonomy: TaxonomyClass[]): void {
  const names = new Set(taxonomy.map((c) => c.name.toLowerCase()));
  const ids = new Set<string>();
  for (const s of sources) {
    if (ids.has(s.id)) throw invalidInput('MANIFEST_INVALID', `label source "${s.id}" is declared twice`);
    ids.add(s.id);
    const isMask = s.format === 'label-mask' || s.format === 'color-mask';
    if (isMask && s.downsample === null)
      throw invalidInput(
        'MANIFEST_INVALID',
        `label source "${s.id}": a ${s.format} needs "downsample" (level-0 pixels per mask pixel)`,
      );
    for (const [from, to] of Object.entries(s.classMap)) {
      if (to !== null && !names.has(to.toLowerCase()))
        throw invalidInput(
          'MANIFEST_INVALID',
          `label source "${s.id}": classMap "${from}" names class "${to}", which the taxonomy does not declare`,
        );
    }
    for (const [colour, to] of Object.entries(s.palette ?? {})) {
      if (!/^#[0-9A-Fa-f]{6}$/.test(colour))
        throw invalidInput('MANIFEST_INVALID', `label source "${s.id}": palette key "${colour}" is not #rrggbb`);
      if (!names.has(to.toLowerCase()))
        throw invalidInput(
          'MANIFEST_INVALID',
          `label source "${s.id}": palette colour ${colour} names class "${to}", which the taxonomy does not declare`,
        );
    }
    checkTolerance(s, taxonomy);
  }
  taxonomy.forEach((c) => parseHexColor(c.color));
}

/** Largest per-channel difference of two packed 0xrrggbb colours: the distance `tolerance` bounds. */
export function colorDistance(a: number, b: number): number {
  return Math.max(
    Math.abs((a >> 16) - (b >> 16)),
    Math.abs(((a >> 8) & 255) - ((b >> 8) & 255)),
    Math.abs((a & 255) - (b & 255)),
  );
}

/** A tolerance must leave every colour within reach of at most one palette colour (black included). */
function checkTolerance(s: LabelSourceSpec, taxonomy: TaxonomyClass[]): void {
  if (s.tolerance === 0) return;
  if (s.format !== 'color-mask')
    throw invalidInput('MANIFEST_INVALID', `label source "${s.id}": "tolerance" applies to colour masks only`);
  const packed = (hex: string) => parseHexColor(hex).reduce((k, c) => (k << 8) | c, 0);
  const colours = [0, ...(s.palette ? Object.keys(s.palette) : taxonomy.map((c) => c.color)).map(packed)];
  let closest = Infinity;
  for (let i = 0; i < colours.length; i++) {
    for (let j = i + 1; j < colours.length; j++)
      if (colours[i] !== colours[j]) closest = Math.min(closest, colorDistance(colours[i]!, colours[j]!));
  }
  if (2 * s.tolerance >= closest) {
    throw invalidInput(
      'MANIFEST_INVALID',
      `label source "${s.id}": tolerance ${s.tolerance} is too large: two palette colours are only ${closest} apart, so it must be below ${Math.ceil(closest / 2)}`,
    );
  }
}
