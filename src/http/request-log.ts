/**
 * Structured request logs with request ids; keys and cookies never reach a log line. Successful
 * requests are logged at debug, errors and slow requests at info or above (log-level.ts).
 *
 * The lines are pino-http's (its logger, serializers and redaction; `req` bound on a child, then
 * `res`, `err` and `responseTime`; "request completed" / "request errored"), but the per-request
 * work is done here: pino-http makes a child logger of every request up front, which serialises
 * the request's headers into the child's bindings even when its line is below the level and never
 * written (a training job's thousands of patches a second). Here the child is made only for a line
 * that is written.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { requestLogLevel } from './log-level.js';

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'];

/** A well-formed X-Request-Id is kept (a proxy's), anything else replaced by a UUID. */
export function requestId(given: string | string[] | undefined): string {
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

export function requestLog(log: Logger): RequestHandler {
  const begin = requestLogger(log);
  return (req, res, next) => {
    begin(req, res);
    next();
  };
}

/**
 * The per-request part of requestLog, for the express chain and the hot-path dispatcher
 * (src/fastpath/) alike: the request id (header and `req.id`) and the line when the answer ends.
 */
export function requestLogger(log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  // Only its logger is used: the one with pino-http's req/res/err serializers and the redaction.
  const logger = pinoHttp({ logger: log, redact: REDACT }).logger;
  return (req, res) => {
    const id = requestId(req.headers['x-request-id']);
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const start = Date.now();
    const done = (err?: Error) => {
      res.removeListener('close', done);
      res.removeListener('finish', done);
      res.removeListener('error', done);
      const failed = err ?? (res.statusCode >= 500 ? new Error(`failed with status code ${res.statusCode}`) : null);
      const level = requestLogLevel(res.statusCode, Boolean(err), Date.now() - start);
      if (!logger.isLevelEnabled(level)) return;
      writeLine(logger.child({ req }), level, res, failed, Date.now() - start);
    };
    res.on('close', done);
    res.on('finish', done);
    res.on('error', done);
  };
}

function writeLine(
  log: Logger,
  level: 'error' | 'info' | 'debug',
  res: ServerResponse,
  err: Error | null,
  responseTime: number,
): void {
  if (err) log[level]({ res, err, responseTime }, 'request errored');
  else log[level]({ res, responseTime }, 'request completed');
}
