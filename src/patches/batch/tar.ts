/**
 * The tar members of a /batches stream (pure): USTAR headers and padded bodies, laid out as
 * tar-stream's pack lays them out for a plain file (mode 0644, uid/gid 0, the given mtime), so the
 * bytes of a batch are the same as before. Why not tar-stream: it makes a stream and promise round
 * per member and hands the socket a header, a body and a padding each; a 3-scale sample is 7
 * members. Here a sample's members are laid out in one buffer, written once.
 */

const BLOCK = 512;
/** Two zero blocks end an archive. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);
/** Octal fields longer than their width cannot be written as text (sizes from 8 GiB on): refused. */
const MAX_SIZE = 0o77777777777;
const FILE_MODE = 0o644;

export interface TarMember {
  name: string;
  body: Buffer;
}

/** `value` as `digits` zero-padded octal digits and a space (tar-stream's field layout). */
function octal(value: number, digits: number): string {
  return value.toString(8).padStart(digits, '0') + ' ';
}

/**
 * The 512-byte USTAR header of a regular file. Names are ASCII and at most 100 bytes (batch member
 * names are "000123.img.0.jpg"): longer ones would need a prefix field or a PAX header, refused.
 */
export function tarHeader(name: string, size: number, mtimeSeconds = 0): Buffer {
  if (name.length === 0 || name.length > 100 || !/^[\x20-\x7e]+$/.test(name))
    throw new RangeError(`tar member name must be 1-100 printable ASCII characters: ${JSON.stringify(name)}`);
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) throw new RangeError(`tar member size ${size}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 'latin1');
  h.write(octal(FILE_MODE, 6), 100, 'latin1');
  h.write(octal(0, 6), 108, 'latin1'); // uid
  h.write(octal(0, 6), 116, 'latin1'); // gid
  h.write(octal(size, 11), 124, 'latin1');
  h.write(octal(mtimeSeconds, 11), 136, 'latin1');
  h[156] = 0x30; // typeflag '0': a regular file
  h.write('ustar\u000000', 257, 'latin1'); // magic "ustar\0", version "00"
  h.write(octal(0, 6), 329, 'latin1'); // devmajor
  h.write(octal(0, 6), 337, 'latin1'); // devminor
  // The checksum counts its own field as eight spaces.
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i]!;
  h.write(octal(sum, 6), 148, 'latin1');
  return h;
}

/** Bytes a member takes in the archive: its header and its body padded to whole blocks. */
export function memberBytes(size: number): number {
  return BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}

/** The members one after the other (header, body, zero padding each) in one buffer. */
export function tarMembers(members: readonly TarMember[]): Buffer {
  let total = 0;
  for (const m of members) total += memberBytes(m.body.length);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const m of members) {
    tarHeader(m.name, m.body.length).copy(out, at);
    at += BLOCK;
    m.body.copy(out, at);
    const end = at + Math.ceil(m.body.length / BLOCK) * BLOCK;
    out.fill(0, at + m.body.length, end);
    at = end;
  }
  return out;
}
