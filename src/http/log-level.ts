/**
 * The level of a request's log line (pure). A training job sends thousands of requests: a
 * successful one is logged at debug; errors (5xx at error, 4xx at info) and slow requests (at
 * info, whatever their status) stay visible at the default level.
 */
export type RequestLogLevel = 'error' | 'info' | 'debug';

/** A request this slow is worth a line at info even when it succeeded. */
export const SLOW_REQUEST_MS = 1000;

export function requestLogLevel(
  status: number,
  failed: boolean,
  elapsedMs: number,
  slowMs = SLOW_REQUEST_MS,
): RequestLogLevel {
  if (failed || status >= 500) return 'error';
  if (status >= 400 || elapsedMs >= slowMs) return 'info';
  return 'debug';
}
