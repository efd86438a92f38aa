/**
 * Optional API keys. The configuration holds only SHA-256 digests (`sha256:<hex>`), so a leaked
 * config or log never leaks a key; a presented key is hashed and looked up. With no keys
 * configured the service is open. Health, readiness, metrics and the contract stay open: they
 * reveal no data.
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { AppError } from '../errors.js';

export interface KeyConfig {
  keys: readonly string[];
  adminKeys: readonly string[];
  revokedKeys: readonly string[];
}

const OPEN = [/^\/healthz$/, /^\/readyz$/, /^\/metrics$/, /^\/openapi\.yaml$/, /^\/docs(\/|$)/, /^\/login$/];
/** Browsers cannot send a Bearer header with image requests: the viewer presents the key in this cookie. */
export const KEY_COOKIE = 'slides_key';
const ADMIN = /^\/admin(\/|$)/;

export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Parses a comma-separated list of `sha256:<64 hex>` digests; anything else fails at boot. */
export function parseKeyList(name: string, raw: string | undefined): string[] {
  if (!raw) return [];
  return raw.split(',').map((k) => k.trim()).filter(Boolean).map((k) => {
    if (!/^sha256:[0-9a-f]{64}$/.test(k)) throw new Error(`config: ${name} takes sha256:<64 hex digits> digests (make one with "npm run hash-key -- <key>"), not keys`);
    return k;
  });
}

export function authMiddleware(cfg: KeyConfig): RequestHandler {
  const data = new Set(cfg.keys);
  const admin = new Set(cfg.adminKeys);
  const revoked = new Set(cfg.revokedKeys);
  const enabled = data.size + admin.size > 0;
  return (req, res, next) => {
    if (!enabled || req.method === 'OPTIONS' || OPEN.some((re) => re.test(req.path))) return next();
    res.locals.keyed = true;
    const key = bearer(req);
    // One message for missing and wrong keys: a client learns nothing about which keys exist.
    const challenge = { 'WWW-Authenticate': 'Bearer realm="slides"' };
    if (key === null) return next(new AppError(401, 'UNAUTHORIZED', 'this endpoint needs an API key: Authorization: Bearer <key>', challenge));
    const digest = hashKey(key);
    if (revoked.has(digest)) return next(new AppError(403, 'KEY_REVOKED', 'this API key has been revoked'));
    const isAdmin = admin.has(digest);
    if (!isAdmin && !data.has(digest)) return next(new AppError(401, 'UNAUTHORIZED', 'the API key is not valid', challenge));
    if (ADMIN.test(req.path) && !isAdmin) return next(new AppError(403, 'FORBIDDEN', 'this action needs an admin key'));
    next();
  };
}

/** The key from `Authorization: Bearer`, or else from the viewer's cookie. */
function bearer(req: Request): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+([\x21-\x7e]{1,512})$/.exec(h.trim());
    return m ? m[1]! : null;
  }
  return cookieKey(req.headers.cookie);
}

export function cookieKey(header: string | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === KEY_COOKIE) {
      const v = decodeURIComponent(rest.join('='));
      return /^[\x21-\x7e]{1,512}$/.test(v) ? v : null;
    }
  }
  return null;
}

/** Whether a key is one the service accepts for data (admin keys included), and not revoked. */
export function keyAccepted(cfg: KeyConfig, key: string): boolean {
  const d = hashKey(key);
  return !cfg.revokedKeys.includes(d) && (cfg.keys.includes(d) || cfg.adminKeys.includes(d));
}
