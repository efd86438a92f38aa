/**
 * Loads one label file into the form the composer paints, and checks it against its slide:
 * classes known, masks of the right size, shapes that touch the slide.
 */
import { readFileSync } from 'node:fs';
import type { LabelSourceSpec } from '../dataset/manifest.js';
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

export async function loadLabelFile(path: string, size: number, spec: LabelSourceSpec, taxonomy: readonly TaxonomyClass[], slide: SlideSize): Promise<LoadedSource> {
  if (spec.format === 'asap-xml' || spec.format === 'geojson') {
    if (size > MAX_VECTOR_FILE_BYTES) throw invalidInput('LABEL_FILE_TOO_LARGE', `the file has ${size} bytes, more than ${MAX_VECTOR_FILE_BYTES}`);
    const text = readFileSync(path, 'utf8');
    const resolve = createClassResolver(taxonomy, spec.classMap);
    const shapes = spec.format === 'asap-xml' ? parseAsapXml(text, resolve) : parseGeoJson(text, resolve);
    checkShapesInside(shapes, slide);
    return { kind: 'vector', shapes };
  }
  const downsample = spec.downsample ?? 1;
  const img = await readMaskRaw(path, spec.format === 'label-mask' ? 'label' : 'color');
  checkMaskSize(img.width, img.height, downsample, slide);
  const values = spec.format === 'label-mask' ? checkLabelValues(img.data, taxonomy) : colorsToValues(img.data, img.channels, spec, taxonomy);
  return { kind: 'mask', values, width: img.width, height: img.height, downsample };
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
    throw invalidInput('MASK_WRONG_SIZE', `the mask is ${width} x ${height}, but a mask at downsample ${downsample} of this ${slide.width} x ${slide.height} slide is ${ew} x ${eh}`);
  }
}

function checkLabelValues(values: Buffer, taxonomy: readonly TaxonomyClass[]): Uint8Array {
  const known = new Uint8Array(256);
  for (const c of taxonomy) known[c.value] = 1;
  const counts = new Float64Array(256);
  for (let i = 0; i < values.length; i++) counts[values[i]!]!++;
  const bad = [...counts.keys()].filter((v) => counts[v]! > 0 && !known[v]);
  if (bad.length > 0) {
    const list = bad.slice(0, 5).map((v) => `${v} (${counts[v]} px)`).join(', ');
    throw invalidInput('MASK_UNKNOWN_VALUE', `the mask holds values the taxonomy does not declare: ${list}`);
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.length);
}

/** Exact palette lookup: a lossy (JPEG) colour mask has colours no palette names, and is refused. */
function colorsToValues(rgb: Buffer, channels: number, spec: LabelSourceSpec, taxonomy: readonly TaxonomyClass[]): Uint8Array {
  if (channels < 3) throw invalidInput('MASK_NOT_RGB', `a colour mask needs 3 channels, this one has ${channels}`);
  const palette = new Map<number, number>([[0, 0]]); // black = unlabelled
  const byName = new Map(taxonomy.map((c) => [c.name.toLowerCase(), c.value]));
  const entries: Array<[string, number]> = spec.palette
    ? Object.entries(spec.palette).map(([hex, name]) => [hex, byName.get(name.toLowerCase())!])
    : taxonomy.map((c) => [c.color, c.value]);
  for (const [hex, value] of entries) {
    const [r, g, b] = parseHexColor(hex);
    palette.set((r << 16) | (g << 8) | b, value);
  }
  const n = rgb.length / channels;
  const out = new Uint8Array(n);
  const unknown = new Map<number, number>();
  for (let p = 0, o = 0; p < n; p++, o += channels) {
    const key = (rgb[o]! << 16) | (rgb[o + 1]! << 8) | rgb[o + 2]!;
    const v = palette.get(key);
    if (v === undefined) unknown.set(key, (unknown.get(key) ?? 0) + 1);
    else out[p] = v;
  }
  if (unknown.size > 0) {
    const list = [...unknown.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, c]) => `#${k.toString(16).padStart(6, '0')} (${c} px)`).join(', ');
    throw invalidInput('COLOR_NOT_IN_PALETTE', `${unknown.size} colour(s) of the mask are not in the palette, e.g. ${list}; colour masks must be lossless (PNG)`);
  }
  return out;
}
