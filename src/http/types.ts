/** Short names for the schemas generated from openapi.yaml (src/generated is never edited by hand). */
import type { components, operations } from '../generated/openapi.js';

export type Schemas = components['schemas'];
export type QueryOf<K extends keyof operations> = operations[K]['parameters'] extends { query?: infer Q } ? NonNullable<Q> : never;
