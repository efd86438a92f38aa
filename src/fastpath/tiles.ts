/** GET /slides/{id}/image_files/{level}/{tile} as a hot route (answer.ts): a viewer's DeepZoom tiles. */
import type { ImageTilePlan } from '../tiles/routes.js';
import type { QuerySource } from '../http/params.js';
import type { HotPlan, HotRoute } from './answer.js';

const NO_HEADERS: HotPlan['headers'] = [];

export function imageTileRoute(
  plan: (params: { slideId: string; level: string; tile: string }, req: QuerySource) => ImageTilePlan,
): HotRoute {
  return {
    route: '/slides/:slideId/image_files/:level/:tile',
    // Other spellings of a level or tile name (leading zeros beyond three digits, %-encoding) go to express.
    path: /^\/slides\/([A-Za-z0-9._~-]+)\/image_files\/([0-9]{1,3})\/([0-9]{1,9}_[0-9]{1,9}\.[a-z]{3,4})$/,
    names: ['slideId', 'level', 'tile'],
    plan: (params, req) => {
      const p = plan({ slideId: params.slideId!, level: params.level!, tile: params.tile! }, req);
      return { etag: p.etag, contentType: p.contentType, headers: NO_HEADERS, body: p.body };
    },
  };
}
