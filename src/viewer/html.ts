/**
 * Escaping and number formatting for the viewer pages (pure). Every value that reaches a page
 * goes through one of these: slide, class and dataset names come from files and the manifest,
 * so they are data, never markup.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The pages' Content-Security-Policy: only this service's own origin, so a page that tried a CDN or
 * any other host would be blocked and the browser tests would see it. OpenSeadragon decodes tiles in
 * a worker it creates from a blob: URL and draws from blob:/data: images; the area bars, OSD's
 * controls and Mirador (emotion) use inline styles.
 */
export const VIEWER_CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

/** Text or attribute value (quoted attributes only): the five characters that can break out. */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * JSON inside `<script type="application/json">`: read back with textContent, which decodes no
 * entities, so HTML escaping would corrupt it. Escaping `<`, `>` and `&` as \u sequences keeps
 * `</script>` and `<!--` from ending the element; U+2028/9 are escaped for old JS parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A #rrggbb colour, or neutral grey: colours end up in style attributes, so nothing else passes. */
export function safeColor(color: string): string {
  return /^#[0-9a-f]{6}$/i.test(color) ? color : '#888888';
}

/** Micrometres squared as people read them: mm² from 1 mm² up, µm² below; pixels without an mpp. */
export function formatArea(areaUm2: number | null, areaPx: number): string {
  if (areaUm2 === null)
    return areaPx >= 1e6 ? `${(areaPx / 1e6).toFixed(1)} Mpx` : `${Math.round(areaPx).toLocaleString('en')} px`;
  if (areaUm2 >= 1e6) return `${(areaUm2 / 1e6).toFixed(areaUm2 >= 1e8 ? 0 : 2)} mm²`;
  return `${Math.round(areaUm2).toLocaleString('en')} µm²`;
}

export function formatMpp(mpp: { x: number; y: number } | null): string {
  if (mpp === null) return 'no resolution recorded';
  const r = (v: number) => Number(v.toPrecision(3));
  return r(mpp.x) === r(mpp.y) ? `${r(mpp.x)} µm/px` : `${r(mpp.x)} × ${r(mpp.y)} µm/px`;
}
