/**
 * Loads one label file into the form the composer paints, and checks it against its slide:
 * classes known, masks of the right size, shapes that touch the slide.
 */
import { readFileSync } from 'node:fs';
import { colorDistance, type LabelSourceSpec } from '../dataset/manifest.js';
import { createClassResolver, parseHexColor, type TaxonomyClass } from '../dataset/taxonomy.js';
import { invalidInput } from '../errors.js';
import { readMaskRaw } from '../imaging/sharp.js';
import { parseAsapXml } from './asap.js';
import type { LoadedSource } from './compose.js';
import { parseGeoJson } from './geojson.js';
import { shapeBounds } from './shapes.js';

export interface SlideSize {
  width: number;
  height: number;
}

/** Vector files larger than this are refused before parsing (a real lesion XML is < 10 MB). */
export const MAX_VECTOR_FILE_BYTES = 512 * 1024 * 1024;

/** Formats whose compression changes colours: a colour mask in one needs a `tolerance`. */
const LOSSY_FORMATS = new Set(['jpeg', 'webp', 'heif', 'jp2']);

/** A loaded source; a colour mask read with a tolerance says how many pixels matched no colour (painted 0). */
export type LoadedLabel = LoadedSource & { unmatchedPx?: number };

/** `source`: the file's path, or its bytes (read from an object store). */
export async function loadLabelFile(
  source: string | Buffer,
  size: number,
  spec: LabelSourceSpec,
  taxonomy: readonly TaxonomyClass[],
  slide: SlideSize,
): Promise<LoadedLabel> {
  if (spec.format === 'asap-xml' || spec.format === 'geojson') {
    if (size > MAX_VECTOR_FILE_BYTES)
      throw invalidInput('LABEL_FILE_TOO_LARGE', `the file has ${size} bytes, more than ${MAX_VECTOR_FILE_BYTES}`);
    const text = typeof source === 'string' ? readFileSync(source, 'utf8') : source.toString('utf8');
    const resolve = createClassResolver(taxonomy, spec.classMap);
    const shapes = spec.format === 'asap-xml' ? parseAsapXml(text, resolve) : parseGeoJson(text, resolve);
    checkShapesInside(shapes, slide);
    return { kind: 'vector', shapes };
  }
  const downsample = spec.downsample ?? 1;
  // The size is checked from the header: a wrong mask is refused before its pixels are decoded.
  const img = await readMaskRaw(source, spec.format === 'label-mask' ? 'label' : 'color', (h) => {
    checkMaskSize(h.width, h.height, downsample, slide);
    if (spec.format === 'color-mask' && spec.tolerance === 0 && LOSSY_FORMATS.has(h.format)) {
      throw invalidInput(
        'MASK_LOSSY',
        `the colour mask is ${h.format.toUpperCase()}, whose compression changes colours: save it losslessly (PNG), or give the label source a "tolerance"`,
      );
    }
  });
  if (spec.format === 'label-mask')
    return {
      kind: 'mask',
      values: checkLabelValues(img.data, taxonomy),
      width: img.width,
      height: img.height,
      downsample,
    };
  const { values, unmatchedPx } = colorsToValues(img.data, img.channels, spec, taxonomy);
  return {
    kind: 'mask',
    values,
    width: img.width,
    height: img.height,
    downsample,
    ...(spec.tolerance > 0 ? { unmatchedPx } : {}),
  };
}

/** A shape wholly outside the slide means the file uses another coordinate plane. */
function checkShapesInside(shapes: ReturnType<typeof parseAsapXml>, slide: SlideSize): void {
  for (const s of shapes) {
    const [x0, y0, x1, y1] = shapeBounds(s);
    if (x1 <= 0 || y1 <= 0 || x0 >= slide.width || y0 >= slide.height) {
      throw invalidInput(
        'LABEL_OUTSIDE_SLIDE',
        `annotation "${s.name}" (x ${Math.round(x0)}..${Math.round(x1)}, y ${Math.round(y0)}..${Math.round(y1)}) lies outside the ${slide.width} x ${slide.height} slide: coordinates must be level-0 pixels`,
      );
    }
  }
}

/** A mask at downsample d of a W x H slide is ceil, floor or round of W/d wide (tools differ). */
export function checkMaskSize(width: number, height: number, downsample: number, slide: SlideSize): void {
  const ok = (got: number, full: number) => Math.abs(got - full / downsample) < 1 + 1e-9;
  if (!ok(width, slide.width) || !ok(height, slide.height)) {
    const ew = Math.ceil(slide.width / downsample);
    const eh = Math.ceil(slide.height / downsample);
    throw invalidInput(
      'MASK_WRONG_SIZE',
      `the mask is ${width} x ${height}, but a mask at downsample ${downsample} of this ${slide.width} x ${slide.height} slide is ${ew} x ${eh}`,
    );
  }
}

function checkLabelValues(values: Buffer, taxonomy: readonly TaxonomyClass[]): Uint8Array {
  const known = new Uint8Array(256);
  for (const c of taxonomy) known[c.value] = 1;
  const counts = new Float64Array(256);
  for (let i = 0; i < values.length; i++) counts[values[i]!]!++;
  const bad = [...counts.keys()].filter((v) => counts[v]! > 0 && !known[v]);
  if (bad.length > 0) {
    const list = bad
      .slice(0, 5)
      .map((v) => `${v} (${counts[v]} px)`)
      .join(', ');
    throw invalidInput('MASK_UNKNOWN_VALUE', `the mask holds values the taxonomy does not declare: ${list}`);
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.length);
}

/** The source's palette: packed 0xrrggbb -> class value, black = unlabelled first. */
export function paletteOf(spec: LabelSourceSpec, taxonomy: readonly TaxonomyClass[]): Map<number, number> {
  const palette = new Map<number, number>([[0, 0]]);
  const byName = new Map(taxonomy.map((c) => [c.name.toLowerCase(), c.value]));
  const entries: Array<[string, number]> = spec.palette
    ? Object.entries(spec.palette).map(([hex, name]) => [hex, byName.get(name.toLowerCase())!])
    : taxonomy.map((c) => [c.color, c.value]);
  for (const [hex, value] of entries) {
    const [r, g, b] = parseHexColor(hex);
    palette.set((r << 16) | (g << 8) | b, value);
  }
  return palette;
}

/**
 * Colour -> class value. With tolerance 0 the lookup is exact and any other colour refuses the
 * mask. With a tolerance t, a colour within t of a palette colour on every channel takes its value
 * (the manifest keeps palette colours more than 2t apart, so at most one is that close); colours
 * farther from all are unlabelled (0) and counted.
 */
function colorsToValues(
  rgb: Buffer,
  channels: number,
  spec: LabelSourceSpec,
  taxonomy: readonly TaxonomyClass[],
): { values: Uint8Array; unmatchedPx: number } {
  if (channels < 3) throw invalidInput('MASK_NOT_RGB', `a colour mask needs 3 channels, this one has ${channels}`);
  const palette = paletteOf(spec, taxonomy);
  const n = rgb.length / channels;
  const out = new Uint8Array(n);
  // Every colour seen, once: its value, or -1 when it matches none.
  const seen = new Map<number, number>(palette);
  const unknown = new Map<number, number>();
  let unmatchedPx = 0;
  for (let p = 0, o = 0; p < n; p++, o += channels) {
    const key = (rgb[o]! << 16) | (rgb[o + 1]! << 8) | rgb[o + 2]!;
    let v = seen.get(key);
    if (v === undefined) {
      v = nearest(key, palette, spec.tolerance);
      seen.set(key, v);
    }
    if (v >= 0) out[p] = v;
    else {
      unmatchedPx++;
      if (spec.tolerance === 0) unknown.set(key, (unknown.get(key) ?? 0) + 1);
    }
  }
  if (unknown.size > 0) {
    const list = [...unknown.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, c]) => `#${k.toString(16).padStart(6, '0')} (${c} px)`)
      .join(', ');
    throw invalidInput(
      'COLOR_NOT_IN_PALETTE',
      `${unknown.size} colour(s) of the mask are not in the palette, e.g. ${list}; colour masks must be lossless (PNG), or the label source needs a "tolerance"`,
    );
  }
  return { values: out, unmatchedPx };
}

function nearest(key: number, palette: Map<number, number>, tolerance: number): number {
  if (tolerance === 0) return -1;
  for (const [colour, value] of palette) if (colorDistance(key, colour) <= tolerance) return value;
  return -1;
}
