/**
 * Typed TypeScript client of the slide service: openapi-fetch over the types generated from
 * openapi.yaml (src/generated/openapi.ts, `npm run gen:types`), so every path, parameter, request
 * body, response body and problem document is checked by the compiler against the contract.
 *
 *   const api = createSlidesClient('http://localhost:8080', { apiKey: process.env.SLIDES_API_KEY });
 *   const { data, error } = await api.GET('/slides/{slideId}', { params: { path: { slideId: 'tumor_001' } } });
 *   if (error) console.error(error.code, error.detail); // a Problem (RFC 9457), typed
 *   else console.log(data.levels.length, data.classes.map((c) => c.name));
 *
 * Binary endpoints take openapi-fetch's `parseAs` ('arrayBuffer', 'blob' or 'stream'), e.g. a
 * WebDataset tar from POST /batches as a stream: see example.ts.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from '../../src/generated/openapi.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];
/** The body of every 4xx/5xx answer: `application/problem+json` with a stable `code`. */
export type Problem = Schemas['Problem'];

/** A /samples or /batches body; properties with a default in the contract may be left out. */
export type SampleRequest = Schemas['SampleRequest'];
export type SlidesClient = Client<paths>;

export interface SlidesClientOptions {
  /** Sent as `Authorization: Bearer <key>` (needed when the service runs with API_KEYS). */
  apiKey?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** A fetch of your own (tests, retries, proxies); default the global fetch. */
  fetch?: (input: Request) => Promise<Response>;
}

export function createSlidesClient(baseUrl: string, options: SlidesClientOptions = {}): SlidesClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey !== undefined) headers.Authorization = `Bearer ${options.apiKey}`;
  return createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** A problem document answered by the service, as an Error. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem.code}: ${problem.detail ?? problem.title}`);
    this.name = 'ProblemError';
  }
}

/**
 * The data of a call, or a ProblemError: for scripts that want exceptions rather than
 * `{ data, error }`.  `const slide = ok(await api.GET('/slides/{slideId}', ...))`.
 */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const e = result.error;
    const problem: Problem = isProblem(e)
      ? e
      : {
          type: 'about:blank',
          title: result.response.statusText || 'Error',
          status: result.response.status,
          code: 'UNEXPECTED_RESPONSE',
          detail: typeof e === 'string' ? e.slice(0, 200) : 'no body',
        };
    throw new ProblemError(result.response.status, problem);
  }
  return result.data;
}

export function isProblem(v: unknown): v is Problem {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Problem).code === 'string' &&
    typeof (v as Problem).status === 'number'
  );
}

/**
 * The model index of a descriptor's class (a /samples item or a batch's JSON): the position, in
 * the request's `classes`, of the entry that selected it (a category's classes share its index).
 * Use it as the training target; `classValue` is the taxonomy's value (1, 2, 3, ...), not an index.
 */
export function classIndex(item: Pick<Schemas['SampleItem'], 'classIndex'>): number {
  return item.classIndex;
}

/** What each class index stands for: the request's `classes` entries, as a listing returns them. */
export function classNames(list: Pick<Schemas['SampleList'], 'classes'>): string[] {
  return list.classes.map(String);
}

/** `region.near` of a sample request: patch centres by their distance (um) to the nearest pixel of some classes. */
export type NearRegion = NonNullable<NonNullable<SampleRequest['region']>['near']>;

/**
 * A `region.near` part: centres at least `outsideUm` and at most `withinUm` from the nearest pixel
 * of `classes` (`near(['metastasis'], 500, 1)`: the 0.5 mm ring around a metastasis, outside it).
 * Each descriptor then carries `distanceUm` and `distanceErrorUm` (the bound from the distance
 * raster's cell size). Checks here what the service would refuse with a 400.
 */
export function near(classes: NearRegion['classes'], withinUm: number, outsideUm = 0): NearRegion {
  if (classes.length === 0) throw new RangeError('near: classes must name at least one class');
  for (const [name, v] of [
    ['withinUm', withinUm],
    ['outsideUm', outsideUm],
  ] as const)
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`near: ${name} must be a finite number >= 0, not ${v}`);
  if (withinUm < outsideUm)
    throw new RangeError(`near: withinUm (${withinUm}) must be at least outsideUm (${outsideUm})`);
  return { classes: [...classes], withinUm, outsideUm };
}

/** One scale of a multi-scale request: `{ size, mpp }` or `{ size, level }` (1 to 4 in `scales`). */
export type ScaleRequest = NonNullable<SampleRequest['scales']>[number];
/** One scale of a descriptor (a request with `scales`): its rectangle, resolution, fractions and /region URLs. */
export type SampleScale = Schemas['SampleScale'];

const EXTENSIONS = { jpeg: 'jpg', png: 'png', webp: 'webp', raw: 'raw', npy: 'npy' } as const;

/**
 * The names of a sample's members in a /batches tar, as the contract spells them: per scale
 * `NNNNNN.img.k.jpg` and `NNNNNN.mask.k.png` in the order asked (masks are raw/npy beside raw/npy
 * images), then `NNNNNN.json`; a single-scale sample has one image `NNNNNN.jpg` and one mask.
 */
export function batchMembers(
  item: Pick<Schemas['SampleItem'], 'index' | 'scales'>,
  format: NonNullable<SampleRequest['format']> = 'jpeg',
): { images: string[]; masks: string[]; json: string } {
  const key = String(item.index).padStart(6, '0');
  const ext = EXTENSIONS[format];
  const maskExt = format === 'raw' || format === 'npy' ? ext : 'png';
  if (!item.scales) return { images: [`${key}.${ext}`], masks: [`${key}.mask.${maskExt}`], json: `${key}.json` };
  return {
    images: item.scales.map((_, k) => `${key}.img.${k}.${ext}`),
    masks: item.scales.map((_, k) => `${key}.mask.${k}.${maskExt}`),
    json: `${key}.json`,
  };
}
