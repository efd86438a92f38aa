/** The 8-byte value cells of the bench's BigTIFF writers (little-endian; a cell an entry holds inline). */

/** SHORTs, packed from the cell's start. */
export const u16s = (...v: number[]): Buffer => {
  const b = Buffer.alloc(8);
  v.forEach((x, i) => b.writeUInt16LE(x, i * 2));
  return b;
};

/** One LONG. */
export const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(v, 0);
  return b;
};

/** One RATIONAL: numerator, denominator. */
export const rational = (num: number, den: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(num, 0);
  b.writeUInt32LE(den, 4);
  return b;
};
