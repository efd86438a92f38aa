/**
 * Mirador (HTTP only): `/viewer/mirador/{slideId}` opens a slide's IIIF manifest in Mirador, whose
 * built bundle is served from its npm package (no CDN). The page carries its configuration as
 * JSON and a fixed start script, so the Content-Security-Policy needs no inline script.
 */
import express, { Router } from 'express';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Generation } from '../generation.js';
import { VIEWER_CSP, esc, jsonForScript } from '../viewer/html.js';
import { origin } from './routes.js';

export interface MiradorDeps {
  current(): Generation;
}

export const MIRADOR_ASSETS = '/viewer/mirador-assets';

/** Reads the page's configuration and starts Mirador with the slide's manifest, its layers panel open. */
const START_SCRIPT = `(function () {
  var config = JSON.parse(document.getElementById('mirador-config').textContent);
  window.miradorInstance = Mirador.viewer({
    id: 'mirador',
    windows: [{ manifestId: config.manifest, sideBarOpen: true, sideBarPanel: 'layers' }],
    window: { allowClose: false, allowMaximize: false },
    workspaceControlPanel: { enabled: false },
  });
})();
`;

export function miradorRoutes(deps: MiradorDeps): Router {
  const r = Router({ caseSensitive: true, strict: true });
  // The package's "require" entry is dist/mirador.min.js: a self-contained UMD build (React included).
  const distDir = dirname(createRequire(import.meta.url).resolve('mirador'));
  r.use(MIRADOR_ASSETS, express.static(distDir, { index: false, maxAge: '1d', fallthrough: true }));
  r.get(`${MIRADOR_ASSETS}/start.js`, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/javascript').send(START_SCRIPT);
  });

  r.get('/viewer/mirador/:slideId', (req, res) => {
    const s = deps.current().slide(req.params.slideId);
    // Absolute: Mirador keys its state by the manifest's URL and normalises it as one.
    const config = { manifest: `${origin(req)}/slides/${s.id}/manifest.json` };
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(s.file_name)} - Mirador</title>
<link rel="icon" href="data:,">
<style>html, body { margin: 0; height: 100%; } #mirador { position: absolute; inset: 0; }</style>
</head><body>
<div id="mirador"></div>
<script type="application/json" id="mirador-config">${jsonForScript(config)}</script>
<script src="${MIRADOR_ASSETS}/mirador.min.js"></script>
<script src="${MIRADOR_ASSETS}/start.js"></script>
</body></html>
`;
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', VIEWER_CSP);
    res.setHeader('Referrer-Policy', 'same-origin');
    res.type('html').send(html);
  });
  return r;
}
