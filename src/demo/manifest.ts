/** The demo dataset's manifest.json (the schema src/dataset/manifest.ts reads) and README.txt. */
import { demoTaxonomy, type TaxonomyEntry } from './taxonomy.js';

export interface DemoManifest {
  name: string;
  version: string;
  description: string;
  slides: { dir: string };
  taxonomy: TaxonomyEntry[];
  labelDownsample: number;
  labelSources: Array<{
    id: string;
    format: 'label-mask' | 'color-mask' | 'geojson' | 'asap-xml';
    dir: string;
    suffix?: string;
    downsample?: number;
    classMap?: Record<string, string | null>;
  }>;
}

/** Label sources in painting order: later sources paint over earlier ones. */
export function demoManifest(seed: number): DemoManifest {
  return {
    name: 'camelyon16-context-demo',
    version: `demo-seed-${seed}`,
    description:
      'Generated Camelyon16-like slides (pyramidal BigTIFF, 512 px JPEG tiles) of a lymph node with real Camelyon16 ' +
      'tumour outlines, context regions and artefacts, labelled in every supported format. Synthetic: for testing only.',
    slides: { dir: 'slides' },
    taxonomy: demoTaxonomy.map((t) => ({ ...t })),
    labelDownsample: 4,
    labelSources: [
      { id: 'context-masks', format: 'label-mask', dir: 'masks/labels', suffix: '_mask', downsample: 16 },
      { id: 'context-colour-masks', format: 'color-mask', dir: 'masks/color', suffix: '_color', downsample: 16 },
      { id: 'context-geojson', format: 'geojson', dir: 'annotations/geojson' },
      { id: 'context-xml', format: 'asap-xml', dir: 'annotations/context-xml' },
      {
        id: 'lesions',
        format: 'asap-xml',
        dir: 'annotations/lesions',
        classMap: { _0: 'metastasis', _1: 'metastasis', Tumor: 'metastasis', _2: null, Exclusion: null },
      },
    ],
  };
}

export interface TumourSource {
  id: string;
  /** Outline file used, or "generated" when the real outlines were not found. */
  source: string;
  /** Overlapping holes / tumours of the real file left out. */
  dropped: number;
}

export interface ReadmeFacts {
  seed: number;
  scale: number;
  slides: ReadonlyArray<{ id: string; width: number; height: number; mpp: number }>;
  sources: readonly TumourSource[];
  maskDownsample: number;
}

export function demoReadme(f: ReadmeFacts): string {
  const d = f.maskDownsample;
  return [
    'GENERATED DATA - not real slides.',
    '',
    `This directory was written by src/demo/generate.ts (seed ${f.seed}, scale ${f.scale}).`,
    'The same seed and scale always give the same manifest, labels and scene.',
    '',
    'Slides (level-0 size, microns per pixel):',
    ...f.slides.map((s) => `  slides/${s.id}.tif  ${s.width} x ${s.height} px, ${s.mpp} um/px`),
    '',
    'Labels:',
    `  tumor_001: masks/labels/tumor_001_mask.png (8-bit class values, downsample ${d}) + annotations/lesions/tumor_001.xml (Camelyon16 lesion XML)`,
    '  tumor_002: annotations/geojson/tumor_002.geojson (QuPath GeoJSON, every class)',
    `  tumor_003: masks/color/tumor_003_color.png (taxonomy colours, downsample ${d}) + annotations/context-xml/tumor_003.xml`,
    '',
    'Tumour outlines (real Camelyon16 annotations, scaled into the lymph node, unless "generated"):',
    ...f.sources.map(
      (s) => `  ${s.id}: ${s.source}${s.dropped > 0 ? ` (${s.dropped} overlapping hole(s)/tumour(s) left out)` : ''}`,
    ),
    '',
  ].join('\n');
}
