/**
 * The viewer's HTML pages (pure: view models in, strings out). Every interpolated value passes
 * through `esc`, `safeColor` or `jsonForScript` (src/viewer/html.ts). The pages reference only
 * this service's own URLs: no CDN, no fonts, no external request of any kind.
 */
import type { Schemas } from '../http/types.js';
import { esc, formatArea, formatMpp, jsonForScript, safeColor } from './html.js';

/** Where routes.ts mounts the static client code and OpenSeadragon's build. */
export const ASSETS_PATH = '/viewer/assets';
export const OSD_PATH = '/viewer/osd';
/** Thumbnails in the list: long side in pixels (twice the displayed box, for sharp HiDPI screens). */
export const LIST_THUMB_SIZE = 320;
/** The overlay's initial opacity: the tissue stays readable under the colours. */
export const DEFAULT_OPACITY = 0.5;

export interface ListPageModel {
  datasetName: string;
  slides: readonly Schemas['SlideSummary'][];
  /** Slides in the dataset (more than `slides.length` when the list was cut). */
  total: number;
}

export interface ViewerPageModel {
  datasetName: string;
  slide: Schemas['SlideSummary'];
  /** The taxonomy, as `/slides/{id}` gives it. */
  legend: readonly Schemas['Class'][];
}

/** What viewer.js reads from the page (the only channel from server to client code). */
export interface ViewerConfig {
  slideId: string;
  imageDzi: string;
  maskDzi: string;
  /** Micrometres per level-0 pixel, horizontally; null hides the scale bar. */
  mpp: number | null;
  opacity: number;
  osdImages: string;
}

export function renderSlideList(m: ListPageModel): string {
  const cut = m.total > m.slides.length ? ` (the first ${m.slides.length} are shown)` : '';
  const body = `<header class="bar"><h1>${esc(m.datasetName)}</h1>
<span class="meta">${m.total} slide${m.total === 1 ? '' : 's'}${esc(cut)}</span>
<nav><a href="/docs">API documentation</a></nav></header>
<main class="slide-grid">
${m.slides.map(slideCard).join('\n')}
</main>`;
  return layout(m.datasetName, 'list-page', body, []);
}

export function renderViewer(m: ViewerPageModel): string {
  const s = m.slide;
  const readable = s.status === 'ok';
  const body = `<header class="bar"><a class="back" href="/">&larr; Slides</a><h1>${esc(s.name)}</h1>
<span class="meta" id="slide-meta">${s.width.toLocaleString('en')} &times; ${s.height.toLocaleString('en')} px &middot; ${esc(formatMpp(s.mpp))}</span></header>
<main class="viewer-layout">
<section class="stage">${readable ? stage() : `<p class="notice">This slide cannot be decoded here: ${esc(s.statusReason ?? 'unsupported')}</p>`}</section>
<aside class="panel">
${readable ? opacityControl() : ''}
<section><h2>Legend</h2>
<div class="legend" id="legend">
${legendGroups(m.legend, s.classes, readable)}
</div>${s.classes.length === 0 ? '<p class="meta">No labels on this slide.</p>' : ''}</section>
</aside>
</main>
${readable ? `<script type="application/json" id="viewer-config">${jsonForScript(viewerConfig(s))}</script>` : ''}`;
  const scripts = readable ? [`${OSD_PATH}/openseadragon.min.js`, `${ASSETS_PATH}/viewer.js`] : [];
  return layout(`${s.name} - ${m.datasetName}`, 'viewer-page', body, scripts);
}

function layout(title: string, pageClass: string, body: string, scripts: readonly string[]): string {
  // The empty data: icon stops the browser asking for /favicon.ico (a 404 on every visit).
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSETS_PATH}/viewer.css">
</head>
<body class="${pageClass}">
${body}
${scripts.map((src) => `<script src="${esc(src)}"></script>`).join('\n')}
</body></html>
`;
}

function slideCard(s: Schemas['SlideSummary']): string {
  const id = encodeURIComponent(s.id);
  const href = `/view/${id}`;
  const ok = s.status === 'ok';
  const thumb = ok
    ? `<a class="thumb" href="${esc(href)}"><img src="/slides/${esc(id)}/thumbnail.jpeg?maxSize=${LIST_THUMB_SIZE}" alt="thumbnail of ${esc(s.name)}" loading="lazy"></a>`
    : `<div class="thumb placeholder">no preview</div>`;
  const title = ok ? `<a href="${esc(href)}">${esc(s.name)}</a>` : esc(s.name);
  const status = ok ? '' : `<p class="status"><b>Not viewable here.</b> ${esc(s.statusReason ?? 'unsupported')}</p>`;
  return `<article class="slide-card${ok ? '' : ' unsupported'}" data-slide="${esc(s.id)}">
${thumb}
<h2>${title}</h2>
<p class="meta">${s.width.toLocaleString('en')} &times; ${s.height.toLocaleString('en')} px &middot; ${esc(formatMpp(s.mpp))}</p>
${status}${areaBars(s.classes)}
</article>`;
}

/** One small bar per labelled class, its length relative to the slide's largest class. */
function areaBars(classes: readonly Schemas['ClassArea'][]): string {
  if (classes.length === 0) return '<p class="meta">no labels</p>';
  const largest = Math.max(...classes.map((c) => c.areaPx), 1);
  const rows = [...classes]
    .sort((a, b) => b.areaPx - a.areaPx)
    .map((c) => {
      const pct = Math.max(1, Math.round((c.areaPx / largest) * 100));
      const share = c.tissueShare === null ? '' : `, ${(c.tissueShare * 100).toFixed(1)} % of tissue`;
      return `<li title="${esc(`${c.name}: ${formatArea(c.areaUm2, c.areaPx)}${share}`)}"><span class="track"><span class="fill" style="width:${pct}%;background:${safeColor(c.color)}"></span></span><span class="name">${esc(c.name)}</span><span class="area">${esc(formatArea(c.areaUm2, c.areaPx))}</span></li>`;
    });
  return `<ul class="areas">${rows.join('')}</ul>`;
}

function stage(): string {
  return `<div id="osd" class="osd" role="application" aria-label="slide viewer"></div>
<div class="scalebar" id="scalebar" hidden><span class="scalebar-label"></span><div class="scalebar-bar"></div></div>
<p class="overlay-status" id="overlay-status" aria-live="polite" hidden></p>`;
}

function opacityControl(): string {
  const pct = Math.round(DEFAULT_OPACITY * 100);
  return `<section><h2>Overlay</h2>
<label class="opacity">Opacity <input type="range" id="opacity" min="0" max="100" step="5" value="${pct}"><output id="opacity-value" for="opacity">${pct} %</output></label>
<label class="tissue-toggle"><input type="checkbox" id="toggle-tissue"> Tissue (detected at ingest)</label>
</section>`;
}

function legendGroups(
  legend: readonly Schemas['Class'][],
  areas: readonly Schemas['ClassArea'][],
  interactive: boolean,
): string {
  const areaOf = new Map(areas.map((a) => [a.value, a]));
  const dis = interactive ? '' : ' disabled';
  return [...legendByCategory(legend)]
    .map(([category, classes]) => {
      const rows = classes.map((c) => {
        const a = areaOf.get(c.value);
        const area = a ? formatArea(a.areaUm2, a.areaPx) : '—';
        return `<li class="legend-row${a ? '' : ' absent'}" data-class="${esc(c.name)}"><label><input type="checkbox" class="toggle-class" value="${esc(c.name)}" data-category="${esc(category ?? '')}" checked${dis}><span class="swatch" style="background:${safeColor(c.color)}"></span><span class="name">${esc(c.name)}</span></label><span class="area">${esc(area)}</span></li>`;
      });
      const head =
        category === null
          ? '<span class="category-name">other</span>'
          : `<label><input type="checkbox" class="toggle-category" value="${esc(category)}" checked${dis}><span class="category-name">${esc(category)}</span></label>`;
      return `<fieldset class="category"><legend>${head}</legend><ul>${rows.join('')}</ul></fieldset>`;
    })
    .join('\n');
}

/** The legend as `{category: classes}` in taxonomy order; value 0 (unlabelled) is never drawn. */
function legendByCategory(legend: readonly Schemas['Class'][]): Map<string | null, Schemas['Class'][]> {
  const groups = new Map<string | null, Schemas['Class'][]>();
  for (const c of legend) {
    if (c.value === 0) continue;
    const list = groups.get(c.category) ?? [];
    list.push(c);
    groups.set(c.category, list);
  }
  return groups;
}

function viewerConfig(s: Schemas['SlideSummary']): ViewerConfig {
  const base = `/slides/${encodeURIComponent(s.id)}`;
  return {
    slideId: s.id,
    imageDzi: `${base}/image.dzi`,
    maskDzi: `${base}/mask.dzi`,
    mpp: s.mpp?.x ?? null,
    opacity: DEFAULT_OPACITY,
    osdImages: `${OSD_PATH}/images/`,
  };
}
