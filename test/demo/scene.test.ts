import { describe, expect, it } from 'vitest';
import { buildDemoScenes } from '../../src/demo/generate.js';
import { blobRing, ringBounds, ringInside, ringsOverlap, simplifyRing, type Ring } from '../../src/demo/geometry.js';
import { qupathGeoJson } from '../../src/demo/labels.js';
import { defaultPolygonsDir, generatedTumours, loadTumourPolygons, sanitise } from '../../src/demo/polygons.js';
import { createRng } from '../../src/demo/random.js';
import { classAtPoint, containsPoint, rasterizeShapes } from '../../src/demo/rasterize.js';
import { buildScene } from '../../src/demo/scene.js';
import { slideSpecs } from '../../src/demo/slides.js';
import { CLASS } from '../../src/demo/taxonomy.js';

const scenes = buildDemoScenes({ seed: 1, scale: 1 });
const square = (x: number, y: number, s: number): Ring => Float64Array.from([x, y, x + s, y, x + s, y + s, x, y + s]);

describe('random', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, createRng(seed).next);
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(7).every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('buildScene', () => {
  it('has the default sizes, tumor_001 over 32768 px long', () => {
    expect(scenes.map((s) => [s.id, s.width, s.height, s.mpp])).toEqual([
      ['tumor_001', 36864, 20480, 0.243],
      ['tumor_002', 16384, 12288, 0.226],
      ['tumor_003', 12288, 16384, 0.243],
    ]);
  });

  it('is deterministic for a seed', () => {
    const again = buildDemoScenes({ seed: 1, scale: 1 });
    expect(again).toEqual(scenes);
    expect(buildDemoScenes({ seed: 2, scale: 1 })[1]!.shapes[0]!.rings).not.toEqual(scenes[1]!.shapes[0]!.rings);
  });

  it.each([0, 1, 2])('slide %i: every class, all on the slide, holes inside their outer ring', (k) => {
    const scene = scenes[k]!;
    expect(new Set(scene.shapes.map((s) => s.value))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8]));
    for (const s of scene.shapes) {
      const [x0, y0, x1, y1] = ringBounds(s.rings[0]!);
      expect(x0 >= 0 && y0 >= 0 && x1 <= scene.width && y1 <= scene.height, s.name).toBe(true);
      for (const hole of s.rings.slice(1)) expect(ringInside(hole, s.rings[0]!), s.name).toBe(true);
    }
  });

  it.each([0, 1, 2])('slide %i: tumours lie inside the lymph node and do not overlap', (k) => {
    const scene = scenes[k]!;
    const node = scene.shapes.find((s) => s.name === 'lymph node')!.rings[0]!;
    const tumours = scene.shapes.filter((s) => s.value === CLASS.metastasis);
    expect(tumours.length).toBeGreaterThan(0);
    tumours.forEach((t, i) => {
      expect(ringInside(t.rings[0]!, node)).toBe(true);
      for (const other of tumours.slice(i + 1)) expect(ringsOverlap(t.rings[0]!, other.rings[0]!)).toBe(false);
    });
  });

  it("orders shapes as each slide's label formats paint them", () => {
    const [s1, , s3] = scenes;
    // Lesion XML is painted last, so tumor_001's tumours come after its artefacts.
    const firstTumour = s1!.shapes.findIndex((s) => s.value === CLASS.metastasis);
    expect(s1!.shapes.slice(firstTumour).every((s) => s.value === CLASS.metastasis)).toBe(true);
    // Context XML has no holes: each tumour hole of tumor_003 is refilled with parenchyma.
    const holes = s3!.shapes.filter((s) => s.value === CLASS.metastasis).reduce((n, s) => n + s.rings.length - 1, 0);
    expect(s3!.shapes.filter((s) => /hole/.test(s.name) && s.value === CLASS.parenchyma)).toHaveLength(holes);
  });

  it('uses the real Camelyon16 outlines: Tumor_034 is one tumour with dozens of holes', () => {
    const real = loadTumourPolygons(defaultPolygonsDir(), 'Tumor_034.json');
    expect(real).not.toBeNull();
    expect(real!.polygons).toHaveLength(1);
    const tumour = scenes[0]!.shapes.filter((s) => s.value === CLASS.metastasis);
    expect(tumour).toHaveLength(1);
    expect(tumour[0]!.rings.length - 1).toBe(real!.polygons[0]!.holes.length);
    expect(real!.polygons[0]!.holes.length).toBeGreaterThan(80);
  });

  it('falls back to generated tumours without the outline files', () => {
    expect(loadTumourPolygons('/nonexistent', 'Tumor_034.json')).toBeNull();
    const fallback = buildDemoScenes({ seed: 1, scale: 0.1, polygonsDir: '/nonexistent' });
    for (const scene of fallback) {
      const tumours = scene.shapes.filter((s) => s.value === CLASS.metastasis);
      expect(tumours.length).toBeGreaterThan(0);
      expect(tumours.some((t) => t.rings.length > 1)).toBe(true);
    }
    expect(generatedTumours(createRng(3)).polygons[0]!.holes).toHaveLength(2);
  });

  it('scales with the demo scale, keeping the layout', () => {
    const [spec] = slideSpecs(0.1);
    const small = buildScene(spec!, createRng(5), generatedTumours(createRng(6)));
    expect([small.width, small.height]).toEqual([3686, 2048]);
  });
});

describe('sanitise', () => {
  it('keeps holes inside one tumour and drops stray or overlapping ones', () => {
    const set = sanitise(
      [
        { name: 'a', ring: square(0, 0, 100) },
        { name: 'b', ring: square(50, 50, 100) },
        { name: 'c', ring: square(300, 0, 100) },
      ],
      [square(10, 10, 20), square(20, 20, 20), square(500, 500, 10), square(310, 10, 10)],
      'test',
    );
    expect(set.polygons.map((p) => [p.name, p.holes.length])).toEqual([
      ['a', 1],
      ['c', 1],
    ]);
    expect(set.dropped).toBe(3);
  });
});

describe('rasterize', () => {
  it('agrees with point queries at every pixel centre', () => {
    const scene = scenes[2]!;
    const d = 64;
    const w = Math.ceil(scene.width / d);
    const h = Math.ceil(scene.height / d);
    const mask = rasterizeShapes(scene.shapes, w, h, d);
    const rng = createRng(11);
    for (let n = 0; n < 400; n++) {
      const i = rng.int(0, w - 1);
      const j = rng.int(0, h - 1);
      expect(mask[j * w + i], `${i},${j}`).toBe(classAtPoint(scene.shapes, (i + 0.5) * d, (j + 0.5) * d));
    }
  });

  it('fills outer minus holes (even-odd) and lets later shapes win', () => {
    const donut = { value: 3, rings: [square(0, 0, 8), square(2, 2, 4)] };
    const dot = { value: 5, rings: [square(5, 5, 2)] };
    const mask = rasterizeShapes([donut, dot], 8, 8, 1);
    expect(mask[0]).toBe(3);
    expect(mask[3 * 8 + 3]).toBe(0);
    expect(mask[5 * 8 + 5]).toBe(5);
    expect(containsPoint(donut.rings, 3, 3)).toBe(false);
  });
});

describe('simplifyRing', () => {
  it('drops vertices but stays within tolerance of the outline', () => {
    const ring = blobRing(createRng(2), 500, 500, 300, 200, 0.2, 2000);
    const simple = simplifyRing(ring, 0.5);
    expect(simple.length).toBeLessThan(ring.length / 2);
    for (let i = 0; i < ring.length; i += 2) {
      let best = Infinity;
      for (let k = 0; k < simple.length; k += 2) {
        const [ax, ay, bx, by] = [
          simple[k]!,
          simple[k + 1]!,
          simple[(k + 2) % simple.length]!,
          simple[(k + 3) % simple.length]!,
        ];
        const t = Math.max(
          0,
          Math.min(
            1,
            ((ring[i]! - ax) * (bx - ax) + (ring[i + 1]! - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2 || 1),
          ),
        );
        best = Math.min(best, Math.hypot(ring[i]! - ax - t * (bx - ax), ring[i + 1]! - ay - t * (by - ay)));
      }
      expect(best).toBeLessThanOrEqual(0.5 + 1e-9);
    }
  });
});

describe('qupathGeoJson', () => {
  it('closes rings, orients outer rings counter-clockwise and holes clockwise', () => {
    const fc = JSON.parse(qupathGeoJson(scenes[1]!)) as {
      features: Array<{ geometry: { type: string; coordinates: number[][][] | number[][][][] } }>;
    };
    const area = (r: number[][]) =>
      r.slice(1).reduce((s, p, i) => s + (r[i]![0]! - p[0]!) * (r[i]![1]! + p[1]!), 0) / 2;
    for (const f of fc.features) {
      const polygons = (
        f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates
      ) as number[][][][];
      for (const p of polygons) p.forEach((ring, i) => expect(area(ring) > 0).toBe(i === 0));
    }
  });
});
