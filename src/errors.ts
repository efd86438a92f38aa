/**
 * The one error type of the service. Routes, readers and the indexer throw it; the problem
 * middleware (src/http/problem.ts) is the only place that turns it into a response, and the
 * indexer is the only place that turns it into an ingest report line.
 *
 * `code` is stable and machine-readable (UPPER_SNAKE); `detail` is for people and must never
 * contain a filesystem path, a stack trace or SQL.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, detail: string, headers: Record<string, string> = {}) {
    super(`${code}: ${detail}`);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.headers = headers;
  }
}

/** Unprocessable input file or body: the status every reader uses for content it cannot accept. */
export function invalidInput(code: string, detail: string): AppError {
  return new AppError(422, code, detail);
}
