/**
 * The hot path of GET /slides/{id}/region (a training job's thousands of patches a second): the
 * first middleware of the app answers it with direct calls instead of walking the generic chain
 * (about forty layers: every router's paths tested in turn before the patch router's). It does what
 * the chain does, through the same functions: the request id and log line (requestLogger), the
 * metrics with the route template as label (Metrics.track), the common and CORS headers, the time
 * budget, the key check, the ETag/304 (notModified) and the body (createRegionPlanner, sendImage).
 *
 * It only answers what it knows it answers alike. Anything else goes down the chain untouched: other
 * methods (HEAD, OPTIONS), a path in another spelling (percent-encoded, a trailing slash, another
 * case) or with characters parseurl reads differently, a refused key, and any request the planner
 * refuses (bad parameters, unknown slide, no index): the chain checks it again and the one error
 * writer answers. Errors found after the 304 check (a rectangle off the slide, BUSY, a damaged file,
 * the time budget) go to that writer too, through `next(err)`.
 */
import { parse as parseQuery } from 'node:querystring';
import type { Request, RequestHandler, Response } from 'express';
import type { Access } from '../auth/keys.js';
import { IMMUTABLE_CACHE, notModified, sendImage } from '../http/cache.js';
import { setCommonHeaders } from '../http/common-headers.js';
import { startTimeBudget } from '../http/limits.js';
import type { QuerySource } from '../http/params.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RegionPlan } from '../patches/region-plan.js';

/** The express route's template: the metrics label of every request answered here. */
export const REGION_ROUTE = '/slides/:slideId/region';

/**
 * Exactly the spellings the express route matches with no percent-decoding to do (case-sensitive, no
 * trailing slash); the query without '#' or whitespace, where parseurl would fall back to url.parse.
 */
const REGION_URL = /^\/slides\/([A-Za-z0-9._~-]+)\/region(?:\?([^#\s]*))?$/;

export interface FastRegionDeps {
  plan(slideId: string, req: QuerySource): RegionPlan;
  access: Pick<Access, 'enabled' | 'passes'>;
  beginLog(req: Request, res: Response): void;
  metrics: Pick<Metrics, 'track'>;
  corsOrigin: string;
  requestTimeoutMs: number;
}

export function fastRegion(deps: FastRegionDeps): RequestHandler {
  const routeOf = () => REGION_ROUTE;
  return (req, res, next) => {
    const m = req.method === 'GET' ? REGION_URL.exec(req.url) : null;
    if (m === null || !deps.access.passes(req)) return next();
    const slideId = m[1]!;
    // What express's 'simple' query parser makes of the same string (querystring.parse).
    const query = parseQuery(m[2] ?? '');
    let plan: RegionPlan;
    try {
      plan = deps.plan(slideId, { query });
    } catch {
      return next();
    }
    // What the chain leaves on the request, for the log line's serializer: parseQueryOnce, the route's params.
    Object.defineProperty(req, 'query', { value: query, enumerable: true, configurable: true });
    req.params = { slideId };
    // In the chain's order: requestLog, metrics, commonHeaders, timeBudget, requireKey, the route.
    deps.beginLog(req, res);
    deps.metrics.track('GET', res, routeOf);
    setCommonHeaders(res, deps.corsOrigin);
    startTimeBudget(deps.requestTimeoutMs, res, next);
    if (deps.access.enabled) res.locals.keyed = true;
    if (notModified(req, res, plan.etag, IMMUTABLE_CACHE)) return;
    // As an async route: whatever throws, in the body or in sending it (headers after a 503), goes to next.
    plan
      .body()
      .then((body) => {
        if (plan.arrayShape !== null) {
          res.setHeader('X-Array-Shape', plan.arrayShape);
          res.setHeader('X-Array-Dtype', 'uint8');
        }
        sendImage(res, body, plan.contentType);
      })
      .catch(next);
  };
}
