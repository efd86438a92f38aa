import { describe, expect, it } from 'vitest';
import type { Schemas } from '../../src/http/types.js';
import { esc, formatArea, formatMpp, jsonForScript, safeColor } from '../../src/viewer/html.js';
import { renderSlideList, renderViewer, type ViewerConfig } from '../../src/viewer/pages.js';

const HOSTILE = `<script>alert("x")</script>&'`;
const LEGEND: Schemas['Class'][] = [
  { value: 0, name: 'unlabelled', category: null, color: '#000000' },
  { value: 1, name: 'metastasis', category: 'diagnostic', color: '#d62728' },
  { value: 3, name: 'adipose', category: 'background', color: '#f2c12e' },
  { value: 4, name: `connective"><b>`, category: `back"ground`, color: 'red;background:url(//evil)' },
];

function slide(over: Partial<Schemas['SlideSummary']> = {}): Schemas['SlideSummary'] {
  return {
    id: 'tumor_001',
    name: 'Tumor_001.tif',
    status: 'ok',
    statusReason: null,
    width: 3000,
    height: 2000,
    mpp: { x: 0.243, y: 0.243 },
    classes: [
      {
        value: 1,
        name: 'metastasis',
        category: 'diagnostic',
        color: '#d62728',
        areaPx: 4e7,
        areaUm2: 2_360_000,
        tissueShare: 0.1,
        bbox: { x: 0, y: 0, width: 1, height: 1 },
      },
      {
        value: 3,
        name: 'adipose',
        category: 'background',
        color: '#f2c12e',
        areaPx: 1e7,
        areaUm2: 590_000,
        tissueShare: null,
        bbox: { x: 0, y: 0, width: 1, height: 1 },
      },
    ],
    links: {},
    ...over,
  };
}

const configOf = (html: string): ViewerConfig =>
  JSON.parse(/<script type="application\/json" id="viewer-config">(.*?)<\/script>/s.exec(html)![1]!) as ViewerConfig;

describe('escaping', () => {
  it('escapes the five HTML characters', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
  it('JSON for a script element cannot close it and reads back unchanged', () => {
    const value = { name: '</script><!-- & \u2028', n: 1 };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual(value);
  });
  it('lets only #rrggbb colours into style attributes', () => {
    expect(safeColor('#D62728')).toBe('#D62728');
    expect(safeColor('red;background:url(//evil)')).toBe('#888888');
  });
});

describe('formatting', () => {
  it.each([
    [null, 512, '512 px'],
    [null, 2_500_000, '2.5 Mpx'],
    [999.6, 0, '1,000 µm²'],
    [123_456, 0, '123,456 µm²'],
    [2_345_678, 0, '2.35 mm²'],
    [123_000_000, 0, '123 mm²'],
  ])('area %s µm² / %s px -> %s', (um2, px, text) => {
    expect(formatArea(um2, px)).toBe(text);
  });
  it('mpp', () => {
    expect(formatMpp(null)).toBe('no resolution recorded');
    expect(formatMpp({ x: 0.24309, y: 0.24309 })).toBe('0.243 µm/px');
    expect(formatMpp({ x: 0.25, y: 0.5 })).toBe('0.25 × 0.5 µm/px');
  });
});

describe('renderSlideList', () => {
  const html = renderSlideList({
    datasetName: HOSTILE,
    total: 3,
    slides: [
      slide(),
      slide({ id: 'odd', name: HOSTILE, classes: [] }),
      slide({ id: 'jp2', name: 'jp2.svs', status: 'unsupported', statusReason: 'JPEG 2000 <codec>' }),
    ],
  });

  it('escapes every name and says why a slide cannot be viewed', () => {
    expect(html).not.toContain('<script>alert');
    expect(html.match(/&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&amp;&#39;/g)).toHaveLength(4); // title, header, card title, thumbnail alt
    expect(html).toContain('JPEG 2000 &lt;codec&gt;');
  });
  it('links readable slides to the viewer, with a thumbnail; none for unsupported ones', () => {
    expect(html).toContain('href="/view/tumor_001"');
    expect(html).toContain('src="/slides/tumor_001/thumbnail.jpeg?maxSize=320"');
    expect(html).not.toContain('/view/jp2');
    expect(html).not.toContain('/slides/jp2/thumbnail');
  });
  it('draws one bar per class, the largest full length', () => {
    expect(html).toContain('style="width:100%;background:#d62728"');
    expect(html).toContain('style="width:25%;background:#f2c12e"');
    expect(html).toContain('<span class="area">2.36 mm²</span>');
  });
  it('references nothing outside the service', () => {
    const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.every((u) => (u.startsWith('/') && !u.startsWith('//')) || u.startsWith('data:'))).toBe(true);
  });
});

describe('renderViewer', () => {
  it('has OpenSeadragon, the client, the legend grouped by category and the config', () => {
    const html = renderViewer({ datasetName: 'd', slide: slide({ name: HOSTILE }), legend: LEGEND });
    expect(html).toContain('<script src="/viewer/osd/openseadragon.min.js"></script>');
    expect(html).toContain('<script src="/viewer/assets/viewer.js"></script>');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('data-class="unlabelled"');
    expect(html).toContain('<input type="checkbox" class="toggle-category" value="diagnostic" checked>');
    expect(html).toContain('value="metastasis" data-category="diagnostic" checked>');
    expect(html).toContain('value="connective&quot;&gt;&lt;b&gt;" data-category="back&quot;ground" checked>');
    expect(html).toContain('<span class="swatch" style="background:#888888">');
    // A class without labels on this slide is listed, marked absent.
    expect(html).toMatch(/<li class="legend-row absent" data-class="connective&quot;&gt;&lt;b&gt;">/);
    expect(configOf(html)).toEqual({
      slideId: 'tumor_001',
      imageDzi: '/slides/tumor_001/image.dzi',
      maskDzi: '/slides/tumor_001/mask.dzi',
      mpp: 0.243,
      opacity: 0.5,
      osdImages: '/viewer/osd/images/',
    });
  });
  it('shows why an unsupported slide cannot be viewed, and loads no viewer', () => {
    const html = renderViewer({
      datasetName: 'd',
      slide: slide({ status: 'unsupported', statusReason: 'ZSTD <x>' }),
      legend: LEGEND,
    });
    expect(html).toContain('cannot be decoded here: ZSTD &lt;x&gt;');
    expect(html).not.toContain('<script');
    expect(html).toContain('value="metastasis" data-category="diagnostic" checked disabled>');
  });
  it('gives a null mpp to the client when the slide has none', () => {
    expect(configOf(renderViewer({ datasetName: 'd', slide: slide({ mpp: null }), legend: LEGEND })).mpp).toBeNull();
  });
});
