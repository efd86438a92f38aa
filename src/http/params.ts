/**
 * Query parameters, parsed strictly (pure; Express 5's req.query is read-only, so nothing is
 * written back). A bad value is a 400 naming the parameter and the accepted range.
 */
import type { Request, RequestHandler } from 'express';
import { AppError } from '../errors.js';

/** Longest list a repeated or comma-separated parameter may have. */
const MAX_LIST = 256;

/** Where parameters are read from: a request, or the query alone (the /region fast path's, src/fastpath/). */
export type QuerySource = Pick<Request, 'query'>;

export function intParam(req: QuerySource, name: string, def: number, min: number, max: number): number {
  const raw = single(req, name);
  if (raw === undefined) return def;
  if (!/^-?\d{1,16}$/.test(raw)) throw badParam(name, `must be an integer from ${min} to ${max}`);
  const v = Number(raw);
  if (v < min || v > max) throw badParam(name, `must be an integer from ${min} to ${max}`);
  return v;
}

export function numberParam(
  req: QuerySource,
  name: string,
  def: number | undefined,
  min: number,
  max: number,
): number | undefined {
  const raw = single(req, name);
  if (raw === undefined) return def;
  const v = /^-?(\d{1,16}(\.\d{0,24})?|\.\d{1,24})(e[+-]?\d{1,3})?$/i.test(raw) ? Number(raw) : NaN; // 24: any double as JS/Python print it (0.1+0.2 = 0.30000000000000004)
  if (!Number.isFinite(v) || v < min || v > max) throw badParam(name, `must be a number from ${min} to ${max}`);
  return v;
}

export function enumParam<T extends string>(req: QuerySource, name: string, def: T, allowed: readonly T[]): T {
  const raw = single(req, name);
  if (raw === undefined) return def;
  if (!(allowed as readonly string[]).includes(raw)) throw badParam(name, `must be one of ${allowed.join(', ')}`);
  return raw as T;
}

/** `?x=a&x=b` and `?x=a,b` both give ['a', 'b']. */
export function listParam(req: QuerySource, name: string): string[] {
  const raw = req.query[name];
  if (raw === undefined) return [];
  const parts = (Array.isArray(raw) ? raw : [raw])
    .flatMap((v) => (typeof v === 'string' ? v.split(',') : []))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (parts.length > MAX_LIST) throw badParam(name, `lists at most ${MAX_LIST} values`);
  return parts;
}

function single(req: QuerySource, name: string): string | undefined {
  const raw = req.query[name];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw badParam(name, 'must be given once');
  return raw;
}

function badParam(name: string, why: string): AppError {
  return new AppError(400, 'INVALID_PARAMETER', `query parameter "${name}" ${why}`);
}

/**
 * Express 5's `req.query` is a getter that parses the query string again on every read (a
 * /region request reads it about fifteen times): parsed once here, at the front of the chain, and
 * kept on the request (still never written back).
 */
export const parseQueryOnce: RequestHandler = (req, _res, next) => {
  Object.defineProperty(req, 'query', { value: req.query, enumerable: true, configurable: true });
  next();
};
