/** Reading a tar stream in tests: every entry by name, in order (Map keeps insertion order). */
import { Readable } from 'node:stream';
import tar from 'tar-stream';

export async function untar(body: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        entries.set(h.name, Buffer.concat(parts));
        next();
      });
    });
    extract.on('finish', resolve).on('error', reject);
    Readable.from([body]).pipe(extract);
  });
  return entries;
}
