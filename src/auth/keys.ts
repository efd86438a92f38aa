/**
 * Optional API keys. The configuration holds only SHA-256 digests (`sha256:<hex>`), so a leaked
 * config or log never leaks a key; a presented key is hashed and looked up. With no keys
 * configured the service is open.
 *
 * No path is compared here: what is open, what needs a key and what needs an admin key follows
 * from where app.ts mounts routers (open ones before `requireKey`) and from `requireAdmin` being
 * a handler of each admin route, so a spelling that reaches a handler has passed its check.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { AppError } from '../errors.js';

export interface KeyConfig {
  keys: readonly string[];
  adminKeys: readonly string[];
  revokedKeys: readonly string[];
}

/** Browsers cannot send a Bearer header with image requests: the viewer presents the key in this cookie. */
export const KEY_COOKIE = 'slides_key';

export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Parses a comma-separated list of `sha256:<64 hex>` digests; anything else fails at boot. */
export function parseKeyList(name: string, raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k) => {
      if (!/^sha256:[0-9a-f]{64}$/.test(k))
        throw new Error(
          `config: ${name} takes sha256:<64 hex digits> digests (make one with "npm run hash-key -- <key>"), not keys`,
        );
      return k;
    });
}

export interface Access {
  /** Every route mounted after it needs a valid (data or admin) key. */
  requireKey: RequestHandler;
  /** A handler of each admin route: an admin key, whatever the path's spelling. */
  requireAdmin: RequestHandler;
  /** Whether keys are configured (answers then say `Cache-Control: private`). */
  enabled: boolean;
  /** Whether requireKey would let the request pass (always, when no keys are configured). */
  passes(req: IncomingMessage): boolean;
}

type Role = 'none' | 'invalid' | 'revoked' | 'data' | 'admin';

export function createAccess(cfg: KeyConfig): Access {
  const data = new Set(cfg.keys);
  const admin = new Set(cfg.adminKeys);
  const revoked = new Set(cfg.revokedKeys);
  const enabled = data.size + admin.size > 0;
  const role = (req: IncomingMessage): Role => {
    const key = bearer(req);
    if (key === null) return 'none';
    const digest = hashKey(key);
    if (revoked.has(digest)) return 'revoked';
    return admin.has(digest) ? 'admin' : data.has(digest) ? 'data' : 'invalid';
  };
  const check =
    (needAdmin: boolean): RequestHandler =>
    (req, res, next) => {
      if (!enabled) return next();
      res.locals.keyed = true;
      const denied = refusal(role(req), needAdmin);
      next(denied ?? undefined);
    };
  const passes = (req: IncomingMessage) => !enabled || refusal(role(req), false) === null;
  return { requireKey: check(false), requireAdmin: check(true), enabled, passes };
}

/** Why a request with this key may not pass, or null when it may. */
function refusal(role: Role, needAdmin: boolean): AppError | null {
  // One message for missing and wrong keys: a client learns nothing about which keys exist.
  const challenge = { 'WWW-Authenticate': 'Bearer realm="slides"' };
  const missing = 'this endpoint needs an API key: Authorization: Bearer <key>';
  switch (role) {
    case 'none':
      return new AppError(401, 'UNAUTHORIZED', missing, challenge);
    case 'invalid':
      return new AppError(401, 'UNAUTHORIZED', 'the API key is not valid', challenge);
    case 'revoked':
      return new AppError(403, 'KEY_REVOKED', 'this API key has been revoked');
    case 'data':
      return needAdmin ? new AppError(403, 'FORBIDDEN', 'this action needs an admin key') : null;
    case 'admin':
      return null;
  }
}

/** The key from `Authorization: Bearer`, or else from the viewer's cookie. */
function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    // The scheme name is case-insensitive (RFC 9110 11.1): `bearer` and `BEARER` are Bearer.
    const m = /^Bearer\s+([\x21-\x7e]{1,512})$/i.exec(h.trim());
    return m ? m[1]! : null;
  }
  return cookieKey(req.headers.cookie);
}

export function cookieKey(header: string | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === KEY_COOKIE) {
      const v = decodeCookie(rest.join('='));
      return v !== null && /^[\x21-\x7e]{1,512}$/.test(v) ? v : null;
    }
  }
  return null;
}

/** A malformed percent-encoding is no key (not a URIError that reads as a bad URL path). */
function decodeCookie(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** Whether a key is one the service accepts for data (admin keys included), and not revoked. */
export function keyAccepted(cfg: KeyConfig, key: string): boolean {
  const d = hashKey(key);
  return !cfg.revokedKeys.includes(d) && (cfg.keys.includes(d) || cfg.adminKeys.includes(d));
}
