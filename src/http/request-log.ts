/**
 * The level of a request's log line (pure). Tiles are many and fast, so their successful reads
 * go to debug; everything else is info, failures error. The rule looks at the method and the
 * path only, spelt as the tile routes spell it: a query string or another route that merely
 * contains `_files/` (e.g. `POST /admin/ingest?_files/`) must not drop out of the info log.
 */
export type RequestLogLevel = 'debug' | 'info' | 'error';

const TILE_PATH = /^\/slides\/[^/]+\/(image|mask)_files\/[^/]+\/[^/]+$/;

export function requestLogLevel(method: string, url: string, status: number, err?: unknown): RequestLogLevel {
  if (err || status >= 500) return 'error';
  const path = url.split('?')[0] ?? '';
  const tileRead = (method === 'GET' || method === 'HEAD') && status < 400 && TILE_PATH.test(path);
  return tileRead ? 'debug' : 'info';
}
