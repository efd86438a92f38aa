/**
 * createApp(deps): the Express application with every router, headers and the one error path.
 * It never listens (server.ts does), so tests drive it through supertest without a port.
 */
import express, { type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import { catalogueRoutes } from './catalogue/routes.js';
import type { IndexHandle } from './db/handle.js';
import { docsRoutes } from './docs/routes.js';
import type { Generation } from './generation.js';
import { notFound, problemHandler } from './http/problem.js';
import type { Schemas } from './http/types.js';
import { patchRoutes } from './patches/routes.js';
import { tileRoutes } from './tiles/routes.js';
import type { TileService } from './tiles/service.js';
import { viewerRoutes } from './viewer/routes.js';

export interface AppDeps {
  index: IndexHandle<Generation>;
  log: Logger;
  imaging: Schemas['Health']['imaging'];
  corsOrigin: string;
  thumbnailMaxSize: number;
  tiles: TileService;
  maxRegionPixels: number;
  maxBodyBytes: number;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are ours: derived from the index, checked before rendering
  app.set('query parser', 'simple');
  app.use(
    pinoHttp({
      logger: deps.log,
      genReqId: (req, res) => {
        const id = (typeof req.headers['x-request-id'] === 'string' && /^[\w.-]{1,64}$/.test(req.headers['x-request-id']) ? req.headers['x-request-id'] : null) ?? randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Tiles are many and fast: log them at debug, everything else at info.
      customLogLevel: (req, res, err) => (err || res.statusCode >= 500 ? 'error' : /_files\//.test(req.url ?? '') ? 'debug' : 'info'),
    }),
  );
  app.use(commonHeaders(deps.corsOrigin));
  const current = () => deps.index.current();

  app.get('/healthz', (_req, res) => {
    const st = deps.index.status();
    let slides = 0;
    let datasetVersion: string | null = null;
    if (st.ready) {
      const g = current();
      slides = g.catalogue.slideCount();
      datasetVersion = g.datasetVersion;
    }
    const body: Schemas['Health'] = {
      status: 'ok',
      index: { ready: st.ready, slides, datasetVersion, ...(st.reason ? { reason: st.reason } : {}) },
      imaging: deps.imaging,
    };
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
  app.use(docsRoutes());
  app.use(catalogueRoutes({ current, thumbnailMaxSize: deps.thumbnailMaxSize }));
  app.use(tileRoutes({ current, tiles: deps.tiles }));
  app.use(patchRoutes({ current, tiles: deps.tiles, maxRegionPixels: deps.maxRegionPixels, maxBodyBytes: deps.maxBodyBytes }));
  app.use(viewerRoutes({ current }));
  app.use(notFound);
  app.use(problemHandler(deps.log));
  return app;
}

/** nosniff everywhere; CORS so viewers on other origins can fetch tiles and read ETags. */
function commonHeaders(origin: string): RequestHandler {
  return (req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', 'ETag, X-Request-Id, Retry-After, Content-Length');
    if (origin !== '*') res.setHeader('Vary', 'Origin');
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
