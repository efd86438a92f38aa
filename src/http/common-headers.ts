/**
 * Headers every answer carries: nosniff everywhere; CORS so viewers on other origins can fetch tiles
 * and read ETags. One definition for the express chain (commonHeaders) and the hot-path
 * dispatcher (src/fastpath/), so both answer with the same headers.
 */
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

const EXPOSED =
  'ETag, X-Request-Id, Retry-After, Content-Length, X-Array-Shape, X-Array-Dtype, X-Dataset-Version, Link';

export function setCommonHeaders(res: ServerResponse, origin: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Expose-Headers', EXPOSED);
  if (origin !== '*') res.setHeader('Vary', 'Origin');
}

/** The middleware: the headers above, and the answer to a CORS preflight (OPTIONS). */
export function commonHeaders(origin: string): RequestHandler {
  return (req, res, next) => {
    setCommonHeaders(res, origin);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, If-None-Match, Authorization');
      res.setHeader('Access-Control-Max-Age', '86400');
      res.status(204).end();
      return;
    }
    next();
  };
}
