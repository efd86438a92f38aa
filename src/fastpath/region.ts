/**
 * The hot path of GET /slides/{id}/region (a training job's thousands of patches a second), answered
 * with direct calls before express's own handling (install.ts): no walk of the generic chain (about
 * forty layers, every router's paths tested in turn before the patch router's), and the request and
 * response stay node's objects (express swaps their prototypes, which gives each a new hidden class
 * and sends node's own HTTP code down V8's slow property lookups). It does what the chain does,
 * through the same functions: the request id and log line (requestLogger), the metrics with the
 * route template as label (Metrics.track), the common and CORS headers, the time budget, the key
 * check, the ETag/304 and the body (createRegionPlanner, sendImage).
 *
 * It only answers what it knows it answers alike. Anything else goes to express untouched: other
 * methods (HEAD, OPTIONS), a path in another spelling (percent-encoded, a trailing slash, another
 * case) or with characters parseurl reads differently, a refused key, and any request the planner
 * refuses (bad parameters, unknown slide, no index): the chain checks it again and the one error
 * writer answers. Errors found after the 304 check (a rectangle off the slide, BUSY, a damaged file,
 * the time budget) are handed to that writer through `fail` (install.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Access } from '../auth/keys.js';
import { IMMUTABLE_CACHE, notModifiedFor, sendImage } from '../http/cache.js';
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
  beginLog(req: IncomingMessage, res: ServerResponse): void;
  metrics: Pick<Metrics, 'track'>;
  corsOrigin: string;
  requestTimeoutMs: number;
}

/**
 * Answers the request and returns true, or returns false having touched nothing. `fail` takes an
 * error found once answering has begun (it may be called twice, as an express route's `next` may:
 * the time budget's 503, then the render's own failure).
 */
export type FastAnswer = (req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void) => boolean;

/** What the chain leaves on a request for the log line's serializer (parseQueryOnce, the route's params). */
type Routed = IncomingMessage & { query?: unknown; params?: Record<string, string> };

export function fastRegion(deps: FastRegionDeps): FastAnswer {
  const routeOf = () => REGION_ROUTE;
  return (req, res, fail) => {
    const m = req.method === 'GET' ? REGION_URL.exec(req.url ?? '') : null;
    if (m === null || !deps.access.passes(req)) return false;
    const slideId = m[1]!;
    // What express's 'simple' query parser makes of the same string (querystring.parse).
    const query = parseQuery(m[2] ?? '');
    let plan: RegionPlan;
    try {
      plan = deps.plan(slideId, { query });
    } catch {
      return false;
    }
    (req as Routed).query = query;
    (req as Routed).params = { slideId };
    // In the chain's order: requestLog, metrics, commonHeaders, timeBudget, requireKey, the route.
    deps.beginLog(req, res);
    deps.metrics.track('GET', res, routeOf);
    setCommonHeaders(res, deps.corsOrigin);
    startTimeBudget(deps.requestTimeoutMs, res, fail);
    if (notModifiedFor(req, res, plan.etag, IMMUTABLE_CACHE, deps.access.enabled)) return true;
    // As an async route: whatever throws, in the body or in sending it (headers after a 503), fails.
    plan
      .body()
      .then((body) => {
        if (plan.arrayShape !== null) {
          res.setHeader('X-Array-Shape', plan.arrayShape);
          res.setHeader('X-Array-Dtype', 'uint8');
        }
        sendImage(res, body, plan.contentType);
      })
      .catch(fail);
    return true;
  };
}
