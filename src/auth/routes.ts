/**
 * Signing the viewer in when API keys are on: a form posts the key, which comes back as an
 * HttpOnly, SameSite=Strict cookie that same-origin tile requests carry (a browser cannot add a
 * Bearer header to the images OpenSeadragon loads).
 */
import express, { type Router } from 'express';
import { createRouter } from '../http/router.js';
import { AppError } from '../errors.js';
import { KEY_COOKIE, keyAccepted, type KeyConfig } from './keys.js';

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<link rel="stylesheet" href="/viewer/assets/viewer.css"></head><body class="login">
<form method="post" action="/login"><h1>Slides</h1><label>API key <input name="key" type="password" autocomplete="current-password" required maxlength="512"></label>
<button type="submit">Sign in</button></form></body></html>`;
/** A working day; the key itself is what grants access, the cookie only carries it. */
const COOKIE_MAX_AGE_S = 12 * 3600;

export function loginRoutes(cfg: KeyConfig): Router {
  const r = createRouter();
  r.get('/login', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(PAGE);
  });
  r.post('/login', express.urlencoded({ extended: false, limit: 2048 }), (req, res) => {
    const key = typeof req.body?.key === 'string' ? req.body.key.trim() : '';
    if (!/^[\x21-\x7e]{1,512}$/.test(key) || !keyAccepted(cfg, key))
      throw new AppError(401, 'UNAUTHORIZED', 'the API key is not valid');
    const secure = req.secure ? '; Secure' : '';
    res.setHeader(
      'Set-Cookie',
      `${KEY_COOKIE}=${encodeURIComponent(key)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_S}${secure}`,
    );
    res.redirect(303, '/');
  });
  return r;
}
