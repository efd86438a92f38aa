import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { frameFits, jpegFrame } from '../../src/slides/jpeg-frame.js';

const make = (width: number, height: number, opts: { progressive?: boolean; grey?: boolean } = {}) => {
  let img = sharp({ create: { width, height, channels: 3, background: '#336699' } });
  if (opts.grey) img = img.toColourspace('b-w');
  return img.jpeg({ progressive: opts.progressive ?? false }).toBuffer();
};

describe('jpegFrame', () => {
  it('reads size, components and progression from real streams', async () => {
    expect(jpegFrame(await make(64, 48))).toEqual({ width: 64, height: 48, components: 3, progressive: false });
    expect(jpegFrame(await make(300, 7, { progressive: true }))).toEqual({
      width: 300,
      height: 7,
      components: 3,
      progressive: true,
    });
    expect(jpegFrame(await make(16, 16, { grey: true }))?.components).toBe(1);
  });

  it('skips fill bytes before a marker; finds no frame in tables-only streams, after a scan, or in cut or foreign bytes', async () => {
    const jpeg = await make(40, 30);
    expect(jpegFrame(Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xff]), jpeg.subarray(2)]))?.width).toBe(
      40,
    );
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['PNG', Buffer.from('89504e470d0a1a0a', 'hex')],
      ['cut before the frame', jpeg.subarray(0, sof)],
      ['cut inside the frame', jpeg.subarray(0, sof + 6)],
      ['tables only (SOI DQT EOI)', Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x02, 0xff, 0xd9])],
      [
        'a scan before any frame',
        Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xc0, 0, 11, 8, 1, 0, 1, 0, 3]),
      ],
      [
        'a segment length below 2',
        Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01, 0xff, 0xc0, 0, 11, 8, 1, 0, 1, 0, 3]),
      ],
      ['garbage between segments', Buffer.from([0xff, 0xd8, 0x12, 0x34, 0xff, 0xc0, 0, 11, 8, 1, 0, 1, 0, 3])],
    ];
    for (const [what, b] of cases) expect(jpegFrame(b), what).toBeNull();
  });
});

describe("frameFits (the native decoder's rule)", () => {
  const f = (width: number, height: number) => ({ width, height, components: 3, progressive: true });
  const cases: Array<[number, number, number, number, boolean]> = [
    [512, 512, 512, 512, true],
    [1024, 1024, 512, 512, true],
    [1025, 512, 512, 512, false],
    [512, 1025, 512, 512, false],
    [32767, 32767, 16384, 16384, false],
    [4096, 4096, 4096, 4096, true],
    [4100, 4100, 4096, 4096, false],
    [8192, 2048, 4096, 4096, true],
    [8192, 2049, 4096, 4096, false],
  ];
  for (const [w, h, tw, th, fits] of cases)
    it(`${w}x${h} in ${tw}x${th} tiles: ${fits}`, () => expect(frameFits(f(w, h), tw, th)).toBe(fits));
});
