/** DeepZoom image and mask tiles as hot routes (answer.ts): what a viewer asks for, tens to hundreds a second. */
import type { ImageTilePlan } from '../tiles/routes.js';
import type { QuerySource } from '../http/params.js';
import type { HotPlan, HotRoute } from './answer.js';

const NO_HEADERS: HotPlan['headers'] = [];

type TilePlanner = (params: { slideId: string; level: string; tile: string }, req: QuerySource) => ImageTilePlan;

export const imageTileRoute = (plan: TilePlanner) => tileRoute('image_files', plan);
export const maskTileRoute = (plan: TilePlanner) => tileRoute('mask_files', plan);

function tileRoute(files: 'image_files' | 'mask_files', plan: TilePlanner): HotRoute {
  return {
    route: `/slides/:slideId/${files}/:level/:tile`,
    // Other spellings of a level or tile name (more than three digits, %-encoding) go to express.
    path: new RegExp(`^/slides/([A-Za-z0-9._~-]+)/${files}/([0-9]{1,3})/([0-9]{1,9}_[0-9]{1,9}\\.[a-z]{3,4})$`),
    names: ['slideId', 'level', 'tile'],
    plan: (params, req) => {
      const p = plan({ slideId: params.slideId!, level: params.level!, tile: params.tile! }, req);
      return { etag: p.etag, contentType: p.contentType, headers: NO_HEADERS, body: p.body };
    },
  };
}
