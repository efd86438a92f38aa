/** Overlay colours for mask tiles (pure): class colours, per-class visibility, one opacity. */
import { parseHexColor, type TaxonomyClass } from '../dataset/taxonomy.js';

/** 256 RGBA entries: shown classes in their colour at `opacity`, everything else transparent. */
export function overlayPalette(
  taxonomy: readonly TaxonomyClass[],
  shown: ReadonlySet<number> | null,
  opacity: number,
): Uint8Array {
  const rgba = new Uint8Array(256 * 4);
  const alpha = Math.round(Math.min(1, Math.max(0, opacity)) * 255);
  for (const c of taxonomy) {
    if (c.value === 0 || (shown !== null && !shown.has(c.value))) continue;
    const [r, g, b] = parseHexColor(c.color);
    rgba.set([r, g, b, alpha], c.value * 4);
  }
  return rgba;
}
