import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressionInfo, unsupportedReason } from '../../src/slides/codecs.js';
import { slideStructure, type SlideStructure } from '../../src/slides/structure.js';
import { TAG, parseTiff, readTiffFile } from '../../src/slides/tiff.js';
import { appErrorOf, makeTempDir, realPath, removeTempDir, writeSlide } from '../support/core-fixtures.js';
import { buildTiff, stripImage, tiledLevel, type Entry } from '../support/core-tiff.js';

/** [ifd, width, height, downsample (4 decimals), tileWidth, tileHeight] per level. */
type LevelRow = [number, number, number, number, number, number];

function levels(s: SlideStructure): LevelRow[] {
  return s.levels.map((l) => [
    l.ifd,
    l.width,
    l.height,
    Math.round(l.downsample * 1e4) / 1e4,
    l.tileWidth,
    l.tileHeight,
  ]);
}

function structureOf(ifds: Entry[][]): SlideStructure {
  const b = buildTiff(ifds);
  return slideStructure(parseTiff((o, n) => b.subarray(o, o + n), b.length));
}

describe('slideStructure on the real fixtures', () => {
  const table: Array<{
    file: string;
    format: string;
    big: boolean;
    codec: [number, string];
    mpp: number | null;
    levels: LevelRow[];
  }> = [
    {
      file: 'boxes.tiff',
      format: 'generic-tiff',
      big: false,
      codec: [8, 'Deflate'],
      mpp: null, // 72 dpi placeholder
      levels: [
        [0, 300, 250, 1, 64, 64],
        [1, 150, 125, 2, 64, 64],
        [2, 75, 62, 4.0161, 64, 64],
        [3, 37, 31, 8.0863, 64, 64],
      ],
    },
    // One level: the 574 x 768 thumbnail, the label (NewSubfileType 1) and the macro (9) are strips.
    {
      file: 'CMU-1-Small-Region.svs',
      format: 'aperio',
      big: false,
      codec: [7, 'JPEG'],
      mpp: 0.499,
      levels: [[0, 2220, 2967, 1, 240, 240]],
    },
    {
      file: 'small.svs',
      format: 'aperio',
      big: false,
      codec: [7, 'JPEG'],
      mpp: 0.499,
      levels: [[0, 16, 16, 1, 64, 64]],
    },
    {
      file: 'tcga-cr-7395-01a-01-ts1.svs',
      format: 'aperio',
      big: false,
      codec: [33005, 'JPEG 2000 (Aperio RGB)'],
      mpp: null,
      levels: [
        [0, 4443, 3567, 1, 256, 256],
        [2, 2221, 1783, 2.0005, 256, 256],
      ],
    },
    {
      file: 'yb10kx5k.zstd.tiff',
      format: 'generic-tiff',
      big: true,
      codec: [50000, 'ZSTD'],
      mpp: null,
      levels: [
        [0, 10000, 5000, 1, 1024, 1024],
        [1, 5000, 2500, 2, 1024, 1024],
        [2, 2500, 1250, 4, 1024, 1024],
        [3, 1250, 625, 8, 1024, 1024],
        [4, 625, 312, 16.0128, 1024, 1024],
      ],
    },
    {
      file: 'unopenable.tiff',
      format: 'generic-tiff',
      big: false,
      codec: [52479, 'unknown (52479)'],
      mpp: null,
      levels: [[0, 1, 1, 1, 512, 512]],
    },
  ];
  for (const c of table) {
    it(c.file, () => {
      const s = slideStructure(readTiffFile(realPath(c.file)));
      expect({
        format: s.format,
        big: s.bigTiff,
        codec: [s.compression.code, s.compression.name],
        mpp: s.mppX,
        levels: levels(s),
      }).toEqual({ format: c.format, big: c.big, codec: c.codec, mpp: c.mpp, levels: c.levels });
      expect([s.width, s.height]).toEqual([c.levels[0]![1], c.levels[0]![2]]);
    });
  }
});

describe('slideStructure on a BigTIFF pyramid written by sharp (the Camelyon16 layout)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('structure');
  });
  afterAll(() => removeTempDir(dir));

  it('mpp 0.243 from pixels per cm, levels halving with floor, NewSubfileType 1 after level 0', async () => {
    const path = join(dir, 'tumor_001.tif');
    await writeSlide(path, { width: 2500, height: 1700, mpp: 0.243, seed: 2 });
    const tiff = readTiffFile(path);
    const s = slideStructure(tiff);
    expect(s.bigTiff).toBe(true);
    expect(s.format).toBe('generic-tiff');
    expect(s.mppX).toBeCloseTo(0.243, 6);
    expect(s.mppY).toBeCloseTo(0.243, 6);
    expect([s.compression.name, s.photometric]).toEqual(['JPEG', 'ycbcr']);
    expect(levels(s)).toEqual([
      [0, 2500, 1700, 1, 512, 512],
      [1, 1250, 850, 2, 512, 512],
      [2, 625, 425, 4, 512, 512],
      [3, 312, 212, 8.0158, 512, 512],
    ]);
    expect(tiff.ifds.map((d) => d.num.get(TAG.NewSubfileType) ?? 0)).toEqual([0, 1, 1, 1]);
  });
});

describe('slideStructure: levels from directories', () => {
  it('sorts tiled directories by width and skips strips, other aspect ratios and repeated widths', () => {
    const s = structureOf([
      tiledLevel(4000, 2000),
      stripImage(500, 250, [{ tag: TAG.NewSubfileType, type: 4, values: [1] }]),
      tiledLevel(1000, 500),
      tiledLevel(2000, 1000),
      tiledLevel(600, 600), // a tiled label: square, not the slide's 2:1
      tiledLevel(1000, 500, 128),
    ]);
    expect(levels(s)).toEqual([
      [0, 4000, 2000, 1, 256, 256],
      [3, 2000, 1000, 2, 256, 256],
      [2, 1000, 500, 4, 256, 256],
    ]);
  });

  it('keeps small levels whose rounding bends the aspect ratio', () => {
    expect(levels(structureOf([tiledLevel(1001, 333), tiledLevel(7, 2)])).map((l) => l[1])).toEqual([1001, 7]);
  });

  it('refuses a file without tiles, and a level 0 without pixels', async () => {
    expect((await appErrorOf(() => structureOf([stripImage(100, 100)]))).code).toBe('NOT_TILED');
    expect((await appErrorOf(() => structureOf([tiledLevel(0, 100)]))).code).toBe('TIFF_BAD_IFD');
  });

  it('refuses a level whose tiles have no size', async () => {
    const zero = tiledLevel(512, 512).map((e) => (e.tag === TAG.TileWidth ? { ...e, values: [0] } : e));
    expect((await appErrorOf(() => structureOf([zero]))).code).toBe('TIFF_BAD_IFD');
  });
});

describe('slideStructure: resolution', () => {
  const res = (x: number, y: number | null, unit: number | null): Entry[] => [
    { tag: TAG.XResolution, type: 5, values: [Math.round(x * 1000), 1000] },
    ...(y === null ? [] : [{ tag: TAG.YResolution, type: 5, values: [Math.round(y * 1000), 1000] }]),
    ...(unit === null ? [] : [{ tag: TAG.ResolutionUnit, type: 3, values: [unit] }]),
  ];
  const table: Array<[string, Entry[], [number, number] | null]> = [
    ['pixels per cm (unit 3)', res(10000 / 0.25, 10000 / 0.25, 3), [0.25, 0.25]],
    ['pixels per inch (unit 2)', res(25400 / 0.5, 25400 / 0.5, 2), [0.5, 0.5]],
    ['no unit tag means inch', res(25400 / 0.5, 25400 / 0.5, null), [0.5, 0.5]],
    ['no Y resolution: square pixels', res(10000 / 0.226, null, 3), [0.226, 0.226]],
    ['different X and Y', res(10000 / 0.25, 10000 / 0.5, 3), [0.25, 0.5]],
    ['unit 1 says nothing about size', res(4000, 4000, 1), null],
    ['72 dpi is a placeholder, not a scan', res(72, 72, 2), null],
    ['no resolution at all', [], null],
  ];
  for (const [what, extra, want] of table) {
    it(what, () => {
      const s = structureOf([tiledLevel(1000, 800, 256, extra)]);
      expect(s.mppX === null ? null : [Number(s.mppX.toFixed(6)), Number(s.mppY!.toFixed(6))]).toEqual(want);
    });
  }

  it('Aperio: MPP from ImageDescription, null when absent', () => {
    const desc = (text: string): Entry[] => [{ tag: TAG.ImageDescription, type: 2, values: text }];
    expect(
      structureOf([
        tiledLevel(1000, 800, 256, desc('Aperio Image Library v12\r\n1000x800 JPEG|AppMag = 40|MPP = 0.2527|Left = 1')),
      ]).mppX,
    ).toBe(0.2527);
    const none = structureOf([tiledLevel(1000, 800, 256, desc('Aperio Image Library v12|AppMag = 40'))]);
    expect([none.format, none.mppX]).toEqual(['aperio', null]);
  });
});

describe('codecs', () => {
  const none = new Set<never>();
  const table: Array<[number, string, boolean, RegExp | null]> = [
    [7, 'JPEG', true, null],
    [8, 'Deflate', true, null],
    [5, 'LZW', true, null],
    [33005, 'JPEG 2000 (Aperio RGB)', false, /JPEG 2000 \(Aperio RGB\) \(TIFF code 33005\)/],
    [50000, 'ZSTD', false, /ZSTD \(TIFF code 50000\)/],
    [6, 'old-style JPEG', false, /old-style JPEG/],
    [52479, 'unknown (52479)', false, /code 52479 is not a codec/],
  ];
  for (const [code, name, ok, reason] of table) {
    it(`${code} = ${name}: ${ok ? 'decodable' : 'unsupported'} without optional codecs`, () => {
      const c = compressionInfo(code);
      expect(c.name).toBe(name);
      const why = unsupportedReason(c, none);
      if (reason) expect(why).toMatch(reason);
      else expect(why).toBeNull();
    });
  }

  it('a probed codec makes its compressions decodable', () => {
    expect(unsupportedReason(compressionInfo(50000), new Set(['ZSTD']))).toBeNull();
    expect(unsupportedReason(compressionInfo(33003), new Set(['JPEG 2000']))).toBeNull();
    expect(unsupportedReason(compressionInfo(33003), new Set(['ZSTD']))).not.toBeNull();
  });
});
