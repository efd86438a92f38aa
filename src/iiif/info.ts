/**
 * IIIF documents and pyramid arithmetic (pure: view models in, plain data out): the Image API
 * 3.0 `info.json` of a slide or of its labels, the scale factors that map IIIF tiles onto stored
 * tiles, the test for a request that is exactly one stored tile, and the Presentation 3 manifest
 * that offers a slide and its label layers as a choice.
 */
import type { Format, Quality, Rect, Rotation } from './params.js';

/** The three images of a slide: its pixels, its raw label values, its coloured label overlay. */
export type ImageKind = 'image' | 'mask' | 'overlay';
/** `{slideId}~mask` and `{slideId}~overlay` name the label images (`~` never occurs in a slide id). */
export const KIND_SUFFIX: Record<ImageKind, string> = { image: '', mask: '~mask', overlay: '~overlay' };

export const IMAGE_CONTEXT = 'http://iiif.io/api/image/3/context.json';
export const PRESENTATION_CONTEXT = 'http://iiif.io/api/presentation/3/context.json';
export const PHYSDIM_CONTEXT = 'http://iiif.io/api/annex/services/physdim/1/context.json';
/** What each image accepts beyond level 2 (jpg, png; default and color are level 2 already). */
const IMAGE_EXTRA = { formats: ['webp'], qualities: ['gray', 'bitonal'] };
/** Features served for every image (level 2's own plus mirroring and upscaling). */
const FEATURES = [
  'regionByPx',
  'regionByPct',
  'regionSquare',
  'sizeByW',
  'sizeByH',
  'sizeByPct',
  'sizeByWh',
  'sizeByConfinedWh',
  'sizeUpscaling',
  'rotationBy90s',
  'mirroring',
  'baseUriRedirect',
  'cors',
  'jsonldMediaType',
  'profileLinkHeader',
  'canonicalLinkHeader',
];

export interface PyramidLevel {
  width: number;
  height: number;
  downsample: number;
}

export interface InfoModel {
  /** The image's base URI (absolute). */
  id: string;
  kind: ImageKind;
  width: number;
  height: number;
  levels: readonly PyramidLevel[];
  /** The stored tile size (square tiles), or a default for slides whose tiles are not square. */
  tileSize: number;
  maxArea: number;
  /** Micrometres per level-0 pixel, when the slide says. */
  mppX: number | null;
  /** The per-slide manifest this image is part of. */
  manifest: string;
}

/**
 * Scale factors: powers of two from 1 until the whole image fits in one tile, as DeepZoom levels
 * go, so a viewer can zoom out fully. Those equal to a stored level's downsample read stored
 * tiles (passthrough when aligned); the others are rendered from the next finer level.
 */
export function scaleFactors(width: number, height: number, tileSize: number): number[] {
  const out = [1];
  while (Math.ceil(Math.max(width, height) / out[out.length - 1]!) > tileSize) out.push(out[out.length - 1]! * 2);
  return out;
}

/**
 * The power-of-two scale factor a stored level is, or null when it is not one: its size must be
 * the full image's divided by that factor (rounded either way), as pyramid writers make them.
 */
export function levelScaleFactor(
  full: { width: number; height: number },
  level: { width: number; height: number },
): number | null {
  const sf = 2 ** Math.round(Math.log2(full.width / level.width));
  const fits = (f: number, l: number) => l === Math.floor(f / sf) || l === Math.ceil(f / sf);
  return sf >= 1 && fits(full.width, level.width) && fits(full.height, level.height) ? sf : null;
}

export interface StoredTileRef {
  level: number;
  tx: number;
  ty: number;
}

/**
 * The stored tile a request is, byte for byte, or null: a jpg in default/color quality, not
 * rotated or mirrored, whose region is one whole stored tile of a power-of-two level at the
 * stored tile's size.
 */
export function alignedStoredTile(
  full: { width: number; height: number },
  levels: readonly PyramidLevel[],
  tile: { width: number; height: number },
  req: { rect: Rect; size: { width: number; height: number }; rotation: Rotation; quality: Quality; format: Format },
): StoredTileRef | null {
  const { rect, size, rotation } = req;
  if (
    req.format !== 'jpg' ||
    (req.quality !== 'default' && req.quality !== 'color') ||
    rotation.degrees !== 0 ||
    rotation.mirror
  )
    return null;
  if (tile.width !== tile.height || size.width !== tile.width || size.height !== tile.height) return null;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    const sf = levelScaleFactor(full, l);
    const span = tile.width * (sf ?? 0);
    if (!sf || rect.w !== span || rect.h !== span || rect.x % span !== 0 || rect.y % span !== 0) continue;
    const tx = rect.x / span;
    const ty = rect.y / span;
    // A stored tile that sticks out of its level holds padding, not image: only whole tiles pass.
    if ((tx + 1) * tile.width <= l.width && (ty + 1) * tile.height <= l.height) return { level: i, tx, ty };
  }
  return null;
}

/** The Image API 3.0 information document. */
export function infoJson(m: InfoModel): Record<string, unknown> {
  const image = m.kind === 'image';
  const sizes = m.levels
    .filter((l) => l.width * l.height <= m.maxArea)
    .map((l) => ({ width: l.width, height: l.height }))
    .reverse();
  const info: Record<string, unknown> = {
    '@context': IMAGE_CONTEXT,
    id: m.id,
    type: 'ImageService3',
    protocol: 'http://iiif.io/api/image',
    // Label images are lossless only (png), so they cannot claim a level, each of which requires jpg.
    profile: image ? 'level2' : 'level0',
    width: m.width,
    height: m.height,
    maxArea: m.maxArea,
    sizes,
    tiles: [{ width: m.tileSize, height: m.tileSize, scaleFactors: scaleFactors(m.width, m.height, m.tileSize) }],
    ...(image ? {} : { preferredFormats: ['png'] }),
    extraFormats: image ? IMAGE_EXTRA.formats : ['png'],
    extraQualities: image ? IMAGE_EXTRA.qualities : [],
    extraFeatures: FEATURES,
    partOf: [{ id: m.manifest, type: 'Manifest' }],
  };
  if (m.mppX !== null) info.service = [physicalDimensions(m.id, m.mppX)];
  return info;
}

/** The physical dimensions service: millimetres per level-0 pixel. */
export function physicalDimensions(base: string, mppX: number): Record<string, unknown> {
  return {
    '@context': PHYSDIM_CONTEXT,
    id: `${base}#physdim`,
    type: 'PhysicalDimensions',
    profile: 'http://iiif.io/api/annex/services/physdim',
    physicalScale: mppX / 1000,
    physicalUnits: 'mm',
  };
}

export interface ManifestModel {
  /** Absolute URL of the manifest itself. */
  id: string;
  /** Absolute base of /iiif/3 (no trailing slash). */
  iiifBase: string;
  slideId: string;
  label: string;
  width: number;
  height: number;
  mppX: number | null;
  /** Whether the slide has labels (no label layers otherwise). */
  labelled: boolean;
  metadata: Array<{ label: string; value: string }>;
}

/** A Presentation 3 manifest: one canvas, one painting annotation whose body is a Choice of the slide and its label layers. */
export function manifestJson(m: ManifestModel): Record<string, unknown> {
  const canvas = `${m.id.replace(/\/manifest\.json$/, '')}/canvas/1`;
  const layer = (kind: ImageKind, label: string) => {
    const service = `${m.iiifBase}/${m.slideId}${KIND_SUFFIX[kind]}`;
    const format = kind === 'image' ? 'jpg' : 'png';
    return {
      id: `${service}/full/max/0/default.${format}`,
      type: 'Image',
      format: kind === 'image' ? 'image/jpeg' : 'image/png',
      width: m.width,
      height: m.height,
      label: { en: [label] },
      service: [{ id: service, type: 'ImageService3', profile: kind === 'image' ? 'level2' : 'level0' }],
    };
  };
  const labels = m.labelled
    ? [layer('overlay', 'Labels (colour overlay)'), layer('mask', 'Labels (raw class values)')]
    : [];
  const items = [layer('image', 'Slide'), ...labels];
  const annotation = { id: `${canvas}/annotation/1`, type: 'Annotation', motivation: 'painting', target: canvas };
  return {
    '@context': PRESENTATION_CONTEXT,
    id: m.id,
    type: 'Manifest',
    label: { none: [m.label] },
    metadata: m.metadata.map((e) => ({ label: { en: [e.label] }, value: { none: [e.value] } })),
    items: [
      {
        id: canvas,
        type: 'Canvas',
        width: m.width,
        height: m.height,
        ...(m.mppX !== null ? { service: [physicalDimensions(canvas, m.mppX)] } : {}),
        items: [
          {
            id: `${canvas}/page/1`,
            type: 'AnnotationPage',
            items: [{ ...annotation, body: items.length === 1 ? items[0] : { type: 'Choice', items } }],
          },
        ],
      },
    ],
  };
}
