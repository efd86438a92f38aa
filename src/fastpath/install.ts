/**
 * Puts hot-path answers (answer.ts) in front of an express app: they see each request before
 * express does (its `handle`, which the app function and supertest both call), and what they do not
 * answer goes to express untouched. An error found once a hot path has begun answering is handed to
 * express with the request, and the first layer of its chain passes it on as `next(err)`: the one
 * error writer (src/http/problem.ts) answers it, with the headers already set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { FastAnswer } from './answer.js';

const FAILED = Symbol('hot path failure');

type Handled = IncomingMessage & { [FAILED]?: { err: unknown } };
type Handle = (req: IncomingMessage, res: ServerResponse, callback?: (err?: unknown) => void) => void;

/** Call before any other app.use: the error hand-over must be the chain's first layer. */
export function installFastPaths(app: Express, answers: readonly FastAnswer[]): void {
  app.use((req, _res, next) => {
    const failed = (req as Handled)[FAILED];
    if (failed === undefined) return next();
    (req as Handled)[FAILED] = undefined;
    // As express does with an async route's rejection.
    next(failed.err || new Error('Rejected promise'));
  });
  const target = app as unknown as { handle: Handle };
  const expressHandle = target.handle.bind(app);
  target.handle = (req, res, callback) => {
    const fail = (err: unknown) => {
      (req as Handled)[FAILED] = { err };
      expressHandle(req, res);
    };
    for (const answer of answers) if (answer(req, res, fail)) return;
    expressHandle(req, res, callback);
  };
}
