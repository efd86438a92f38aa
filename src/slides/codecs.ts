/**
 * TIFF compression codes, and which of them this build can decode (pure table; the runtime
 * probe of the optional codecs lives in src/imaging/sharp.ts).
 */

/** Codecs a libvips build may or may not have; probed once at start. */
export type ProbedCodec = 'ZSTD' | 'WebP' | 'JPEG 2000';

export interface CompressionInfo {
  code: number;
  name: string;
  /** Decodable by every libvips/libtiff build, never, or only when the probe finds a codec. */
  support: 'always' | 'never' | ProbedCodec;
}

const CODECS: Record<number, [string, CompressionInfo['support']]> = {
  1: ['none', 'always'],
  5: ['LZW', 'always'],
  7: ['JPEG', 'always'],
  8: ['Deflate', 'always'],
  32946: ['Deflate', 'always'],
  32773: ['PackBits', 'always'],
  6: ['old-style JPEG', 'never'],
  // libvips decodes Aperio's JPEG 2000 tiles itself when built with OpenJPEG.
  33003: ['JPEG 2000 (Aperio YCbCr)', 'JPEG 2000'],
  33005: ['JPEG 2000 (Aperio RGB)', 'JPEG 2000'],
  34712: ['JPEG 2000', 'JPEG 2000'],
  34887: ['LERC', 'never'],
  34925: ['LZMA', 'never'],
  50000: ['ZSTD', 'ZSTD'],
  50001: ['WebP', 'WebP'],
  50002: ['JPEG XL', 'never'],
};

export function compressionInfo(code: number): CompressionInfo {
  const known = CODECS[code];
  return known ? { code, name: known[0], support: known[1] } : { code, name: `unknown (${code})`, support: 'never' };
}

/** Why a slide with this compression cannot be served, or null when it can. */
export function unsupportedReason(c: CompressionInfo, available: ReadonlySet<ProbedCodec>): string | null {
  if (c.support === 'always') return null;
  if (c.support !== 'never' && available.has(c.support)) return null;
  if (c.name.startsWith('unknown'))
    return `unsupported compression: TIFF code ${c.code} is not a codec this service knows`;
  return `unsupported compression: ${c.name} (TIFF code ${c.code}) cannot be decoded by this build of libvips (prebuilt sharp has no OpenSlide, no JPEG 2000, no ZSTD)`;
}
