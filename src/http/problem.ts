/**
 * The one place errors become responses: RFC 9457 problem documents with a stable `code`.
 * Nothing from the inside (paths, stacks, SQL) reaches a client; unexpected errors are logged
 * and answered with a bare 500.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  errors?: Array<{ path: string; message: string }>;
}

export function sendProblem(res: Response, instance: string, e: AppError, errors?: ProblemBody['errors']): void {
  const body: ProblemBody = {
    type: `/problems/${e.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[e.status] ?? 'Error',
    status: e.status,
    detail: e.detail,
    instance,
    code: e.code,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
  res.status(e.status);
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.type('application/problem+json').send(JSON.stringify(body));
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new AppError(404, 'ROUTE_NOT_FOUND', `no endpoint answers ${req.method} ${req.path}`));
};

/** Error shapes of the libraries in front of the routes (validator, body parser). */
interface LibraryError {
  status?: number;
  statusCode?: number;
  type?: string;
  errors?: Array<{ path?: string; message?: string }>;
  message?: string;
}

export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      // A stream broke after its head went out: nothing to answer, just end it.
      res.destroy();
      return;
    }
    const instance = req.originalUrl.split('?')[0] ?? '/';
    if (err instanceof AppError) return sendProblem(res, instance, err);
    const lib = (err ?? {}) as LibraryError;
    const status = lib.status ?? lib.statusCode;
    if (err instanceof URIError || (status === 400 && /^Failed to decode param/.test(lib.message ?? ''))) {
      return sendProblem(res, '/', new AppError(400, 'INVALID_PATH', 'the URL path has a malformed percent-encoding'));
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const errors = (lib.errors ?? []).map((e) => ({ path: String(e.path ?? ''), message: String(e.message ?? '') }));
      return sendProblem(
        res,
        instance,
        new AppError(status, libraryCode(status, lib.type), libraryDetail(status, lib, errors)),
        errors,
      );
    }
    log.error({ err, url: req.originalUrl }, 'unexpected error');
    sendProblem(
      res,
      instance,
      new AppError(500, 'INTERNAL', 'the service failed to answer this request; it has been logged'),
    );
  };
}

function libraryCode(status: number, type: string | undefined): string {
  if (type === 'entity.parse.failed') return 'JSON_MALFORMED';
  if (type === 'entity.too.large') return 'BODY_TOO_LARGE';
  if (status === 404) return 'ROUTE_NOT_FOUND';
  if (status === 405) return 'METHOD_NOT_ALLOWED';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  return 'VALIDATION_FAILED';
}

function libraryDetail(status: number, lib: LibraryError, errors: Array<{ path: string; message: string }>): string {
  if (lib.type === 'entity.parse.failed') return 'the request body is not valid JSON';
  if (lib.type === 'entity.too.large') return 'the request body is larger than the service accepts';
  if (errors.length > 0)
    return errors.map((e) => `${e.path.replace(/^\//, '').replace(/\//g, '.')} ${e.message}`).join('; ');
  return status === 404 ? 'no such endpoint' : 'the request is not valid';
}
