/** Short names for the schemas generated from openapi.yaml (src/generated is never edited by hand). */
import type { components } from '../generated/openapi.js';

export type Schemas = components['schemas'];
