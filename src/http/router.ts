/**
 * The one way the service makes routers. Express matches paths case-insensitively and with an
 * optional trailing slash by default, while access rules, caches (nginx keys on the URL) and
 * metrics see the path as sent: `/ADMIN/ingest` once reached the admin handler past a
 * lower-case admin check. Here every path has exactly one spelling, the one in openapi.yaml.
 */
import { Router, type Express } from 'express';

export const ROUTER_OPTIONS = { caseSensitive: true, strict: true } as const;

/** A router that matches paths case-sensitively and without an implied trailing slash. */
export function createRouter(): Router {
  return Router(ROUTER_OPTIONS);
}

/** The same rules for the application's own router (app.use, app.get). */
export function exactRouting(app: Express): void {
  app.set('case sensitive routing', ROUTER_OPTIONS.caseSensitive);
  app.set('strict routing', ROUTER_OPTIONS.strict);
}
