/**
 * Baseline: plain sharp per request. For each tile or patch, libvips opens the TIFF page and
 * decodes the tiles it touches (`sharp(file, {page}).extract(region).resize(...).jpeg()`), with
 * the same DeepZoom geometry as the service (deepZoomGeometry / tileRead) and the same URLs:
 *   /slides/{id}/image_files/{level}/{col}_{row}.jpeg?tileSize=&overlap=
 *   /slides/{id}/region?x=&y=&width=&height=  (level 0, JPEG quality 90)
 * Run: node --import tsx bench/baseline-server.ts --port N --slide id=path ...
 */
import express, { type Request } from 'express';
import sharp from 'sharp';
import { slideStructure, type SlideLevel } from '../src/slides/structure.js';
import { readTiffFile } from '../src/slides/tiff.js';
import { deepZoomGeometry, parseTileName, tileRead, type DzGeometry } from '../src/tiles/deepzoom.js';

interface Slide {
  path: string;
  levels: SlideLevel[];
  tileSize: number;
  geometries: Map<string, DzGeometry>;
}

const TILE_QUALITY = 80;
const REGION_QUALITY = 90;

function args(argv: string[]): { port: number; slides: Map<string, Slide> } {
  let port = 0;
  const slides = new Map<string, Slide>();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--slide') {
      const [id, path] = (argv[++i] ?? '').split(/=(.*)/s);
      if (!id || !path) throw new Error('--slide id=path');
      const s = slideStructure(readTiffFile(path));
      slides.set(id, { path, levels: s.levels, tileSize: s.levels[0]!.tileWidth, geometries: new Map() });
    }
  }
  if (!port) throw new Error('--port N');
  return { port, slides };
}

function int(req: Request, name: string, def: number): number {
  const raw = req.query[name];
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`bad ${name}`);
  return v;
}

const { port, slides } = args(process.argv.slice(2));
const app = express();

app.get('/healthz', (_req, res) => {
  res.send('ok');
});

app.get('/slides/:id/image_files/:level/:tile', async (req, res) => {
  const s = slides.get(req.params.id);
  const t = parseTileName(req.params.tile);
  if (!s || !t) {
    res.sendStatus(404);
    return;
  }
  const tileSize = int(req, 'tileSize', s.tileSize);
  const overlap = int(req, 'overlap', 0);
  const key = `${tileSize}:${overlap}`;
  let g = s.geometries.get(key);
  if (!g) s.geometries.set(key, (g = deepZoomGeometry(s.levels, tileSize, overlap)));
  const read = tileRead(g, s.levels, Number(req.params.level), t.col, t.row);
  if (!read) {
    res.sendStatus(404);
    return;
  }
  let img = sharp(s.path, { page: s.levels[read.slideLevel]!.ifd, limitInputPixels: false }).extract({
    left: read.lX,
    top: read.lY,
    width: read.lWidth,
    height: read.lHeight,
  });
  if (read.lWidth !== read.zWidth || read.lHeight !== read.zHeight)
    img = img.resize({ width: read.zWidth, height: read.zHeight, fit: 'fill' });
  const body = await img.jpeg({ quality: TILE_QUALITY }).toBuffer();
  res.type('image/jpeg').send(body);
});

app.get('/slides/:id/region', async (req, res) => {
  const s = slides.get(req.params.id);
  if (!s) {
    res.sendStatus(404);
    return;
  }
  const l0 = s.levels[0]!;
  const width = int(req, 'width', 256);
  const height = int(req, 'height', 256);
  const left = Math.min(int(req, 'x', 0), l0.width - width);
  const top = Math.min(int(req, 'y', 0), l0.height - height);
  const body = await sharp(s.path, { page: l0.ifd, limitInputPixels: false })
    .extract({ left, top, width, height })
    .jpeg({ quality: REGION_QUALITY })
    .toBuffer();
  res.type('image/jpeg').send(body);
});

app.listen(port, '127.0.0.1', () => {
  process.stderr.write(`baseline (sharp ${sharp.versions.sharp ?? '?'}, libvips ${sharp.versions.vips}) on ${port}\n`);
});
