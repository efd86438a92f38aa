/**
 * A hot path for one GET route whose answer is an image named by an ETag (/region, DeepZoom tiles),
 * answered with direct calls before express's own handling (install.ts): no walk of the generic
 * chain (about forty layers, every router's paths tested in turn), and the request and response stay
 * node's objects (express swaps their prototypes, which gives each a new hidden class and sends
 * node's own HTTP code down V8's slow property lookups). It does what the chain does, through the
 * same functions: the request id and log line (requestLogger), the metrics with the route template
 * as label (Metrics.track), the common and CORS headers, the time budget, the key check, the
 * ETag/304 and the body (the route's own planner, shared with its express handler; sendImage).
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

/** What the route's planner says of a request it accepts; it throws the request's AppError otherwise. */
export interface HotPlan {
  /** The strong ETag, unquoted. */
  etag: string;
  contentType: string;
  /** Set after the body is made, before Content-Type (as the route sets them), e.g. X-Array-Shape. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** The body; a bad request found only now rejects with its AppError. */
  body(): Promise<Buffer>;
}

export interface HotRoute {
  /** The express route's template: the metrics label of every request answered here. */
  route: string;
  /**
   * The path (no query), exactly as the express route matches it with no percent-decoding to do
   * (case-sensitive, no trailing slash): path parameters in capture groups, in `names`' order.
   */
  path: RegExp;
  names: readonly string[];
  plan(params: Record<string, string>, req: QuerySource): HotPlan;
}

export interface HotDeps {
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

/** A query parseurl would not take as the text after '?' (it falls back to url.parse on these). */
const ODD_QUERY = /[#\s]/;

/** What the chain leaves on a request for the log line's serializer (parseQueryOnce, the route's params). */
type Routed = IncomingMessage & { query?: unknown; params?: Record<string, string> };

export function hotAnswer(deps: HotDeps, spec: HotRoute): FastAnswer {
  const routeOf = () => spec.route;
  return (req, res, fail) => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const m = spec.path.exec(q < 0 ? url : url.slice(0, q));
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    if (m === null || ODD_QUERY.test(rawQuery) || !deps.access.passes(req)) return false;
    const params: Record<string, string> = {};
    spec.names.forEach((name, i) => (params[name] = m[i + 1]!));
    // What express's 'simple' query parser makes of the same string (querystring.parse).
    const query = parseQuery(rawQuery);
    let plan: HotPlan;
    try {
      plan = spec.plan(params, { query });
    } catch {
      return false;
    }
    (req as Routed).query = query;
    (req as Routed).params = params;
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
        for (const [k, v] of plan.headers) res.setHeader(k, v);
        sendImage(res, body, plan.contentType);
      })
      .catch(fail);
    return true;
  };
}
