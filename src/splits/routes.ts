/**
 * Split endpoints (HTTP only): POST /splits, GET /splits, GET /splits/{name}, DELETE /splits/{name}.
 */
import express, { Router } from 'express';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { loadManifest, type Manifest } from '../dataset/manifest.js';
import { OPENAPI_PATH } from '../docs/routes.js';
import { AppError } from '../errors.js';
import type { Generation } from '../generation.js';
import { makeSplit, splitDefinition, type SlideAttributes, type SplitRequest } from './build.js';
import type { SplitStore } from './store.js';

export interface SplitRouteDeps {
  current(): Generation;
  store: SplitStore;
  /** Where manifest.json is (its slideAttributes feed groupBy and adopt). */
  dataDir: string;
  /** The manifest when the dataset is in an object store (read through it, not from dataDir). */
  manifest?: () => Promise<Manifest>;
  maxBodyBytes: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
ajv.addSchema({
  $id: 'openapi',
  components: (parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as { components: unknown }).components,
});
const validateBody = ajv.compile<SplitRequest>({ $ref: 'openapi#/components/schemas/SplitRequest' });

export function splitRoutes(deps: SplitRouteDeps): Router {
  // Case-sensitive and strict like every router of the service: /Splits and /splits/ are not /splits.
  const r = Router({ caseSensitive: true, strict: true });
  const json = express.json({ limit: deps.maxBodyBytes, strict: true });

  r.post('/splits', json, async (req, res) => {
    if (!req.is('application/json'))
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json');
    const body = parseBody(req.body);
    const g = deps.current();
    const definition = splitDefinition(body);
    const existing = deps.store.get(body.name);
    if (existing) {
      if (existing.definition === definition && existing.split.datasetVersion === g.datasetVersion) {
        res.status(200).json(existing.split);
        return;
      }
      throw new AppError(
        409,
        'SPLIT_EXISTS',
        `a different split named "${body.name}" exists (made on dataset version ${existing.split.datasetVersion}): delete it first or choose another name`,
      );
    }
    const needsAttributes = body.adopt !== undefined || (body.groupBy ?? 'slide') !== 'slide';
    const manifest = needsAttributes ? (deps.manifest ? await deps.manifest() : loadManifest(deps.dataDir)) : null;
    const split = makeSplit(g, body, manifest ? attributesOf(g, manifest) : {}, new Date());
    // Two requests racing for a name: the loser sees what the winner stored.
    if (!deps.store.insert(split, definition))
      throw new AppError(409, 'SPLIT_EXISTS', `a split named "${body.name}" was stored meanwhile`);
    res.status(201).json(split);
  });

  r.get('/splits', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items: deps.store.list() });
  });

  r.get('/splits/:name', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(found(deps.store, req.params.name).split);
  });

  r.delete('/splits/:name', (req, res) => {
    found(deps.store, req.params.name);
    deps.store.delete(req.params.name);
    res.status(204).end();
  });
  return r;
}

function parseBody(body: unknown): SplitRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError(400, 'VALIDATION_FAILED', 'the body must be a JSON object');
  const req = { ...body } as SplitRequest;
  if (!validateBody(req)) {
    const errors = (validateBody.errors ?? [])
      .slice(0, 10)
      .map((e) => `${e.instancePath || 'body'} ${e.message ?? ''}`.trim());
    throw new AppError(400, 'VALIDATION_FAILED', errors.join('; '));
  }
  return req;
}

function found(store: SplitStore, name: string | undefined) {
  const f = name !== undefined && NAME.test(name) ? store.get(name) : undefined;
  if (!f)
    throw new AppError(
      404,
      'SPLIT_NOT_FOUND',
      name !== undefined && NAME.test(name) ? `no split named "${name}"` : 'no such split',
    );
  return f;
}

/**
 * The manifest's slide attributes, read now; refused when the manifest's indexed part changed
 * since the ingest (the attributes would describe another dataset than the one served).
 */
function attributesOf(g: Generation, m: Manifest): SlideAttributes {
  const indexed = g.catalogue.datasetInfo().manifest_hash;
  if (indexed !== undefined && m.hash !== indexed)
    throw new AppError(
      409,
      'MANIFEST_CHANGED',
      'manifest.json changed since the last ingest: re-ingest before making a split from its attributes',
    );
  return m.slideAttributes;
}
