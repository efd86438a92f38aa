/**
 * Conditional GET: strong ETags derived from the index (they change when a slide or its labels
 * change), checked before any rendering, and Cache-Control for content that never changes under
 * the same ETag.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';

/** Content addressed by an ETag that changes with its inputs: cache for a day, revalidate after. */
export const IMMUTABLE_CACHE = 'public, max-age=86400, stale-while-revalidate=604800';
/** Catalogue JSON changes with every ingest: let clients keep it but always revalidate. */
export const REVALIDATE_CACHE = 'public, max-age=0, must-revalidate';

/** Sets ETag and Cache-Control; answers 304 and returns true when the client's copy is current. */
export function notModified(req: Request, res: Response, etag: string, cacheControl: string): boolean {
  return notModifiedFor(req, res, etag, cacheControl, res.locals.keyed === true);
}

/**
 * notModified for a request that is not (yet) express's (src/fastpath/), told whether it was keyed.
 * Behind API keys a shared cache must not hand one caller's answer to another without a key.
 */
export function notModifiedFor(
  req: IncomingMessage,
  res: ServerResponse,
  etag: string,
  cacheControl: string,
  keyed: boolean,
): boolean {
  const quoted = `"${etag}"`;
  res.setHeader('ETag', quoted);
  res.setHeader('Cache-Control', keyed ? cacheControl.replace('public', 'private') : cacheControl);
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === quoted || t.trim() === '*')) {
    res.statusCode = 304;
    res.end();
    return true;
  }
  return false;
}

export function sendImage(res: ServerResponse, body: Buffer, contentType: string): void {
  // The time budget may have answered already (503): the late result has nowhere to go.
  if (res.headersSent) return;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
