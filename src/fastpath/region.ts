/** GET /slides/{id}/region as a hot route (answer.ts): the training patches, thousands a second. */
import type { RegionPlan } from '../patches/region-plan.js';
import type { QuerySource } from '../http/params.js';
import type { HotPlan, HotRoute } from './answer.js';

const NO_HEADERS: HotPlan['headers'] = [];

export function regionRoute(plan: (slideId: string, req: QuerySource) => RegionPlan): HotRoute {
  return {
    route: '/slides/:slideId/region',
    path: /^\/slides\/([A-Za-z0-9._~-]+)\/region$/,
    names: ['slideId'],
    plan: (params, req) => {
      const p = plan(params.slideId!, req);
      const headers: HotPlan['headers'] =
        p.arrayShape === null
          ? NO_HEADERS
          : [
              ['X-Array-Shape', p.arrayShape],
              ['X-Array-Dtype', 'uint8'],
            ];
      return { etag: p.etag, contentType: p.contentType, headers, body: p.body };
    },
  };
}
