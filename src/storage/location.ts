/**
 * Where the dataset lives: a local directory, an S3 bucket and prefix, or an HTTP(S) base URL.
 * Pure: parses the DATA_DIR string, does no I/O.
 */

export type DataLocation =
  { kind: 'local'; dir: string } | { kind: 's3'; bucket: string; prefix: string } | { kind: 'http'; base: string };

/** Whether a DATA_DIR value names object storage rather than a directory. */
export function isRemote(dataDir: string): boolean {
  return /^(s3|https?):\/\//i.test(dataDir);
}

/**
 * `s3://bucket/prefix` (prefix may be empty; a trailing slash is implied), `http(s)://host/path/`
 * (a trailing slash is implied), anything else a local directory. Credentials in a URL are refused:
 * they would end up in logs; S3 takes them from the AWS_* variables.
 */
export function parseDataLocation(dataDir: string): DataLocation {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(dataDir);
  if (s3) {
    const bucket = s3[1]!;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new Error(`DATA_DIR: "${bucket}" is not a valid S3 bucket name`);
    return { kind: 's3', bucket, prefix: withSlash(s3[2]!) };
  }
  if (/^https?:\/\//i.test(dataDir)) {
    let url: URL;
    try {
      url = new URL(dataDir);
    } catch {
      throw new Error('DATA_DIR: not a valid http(s) URL');
    }
    if (url.username || url.password) throw new Error('DATA_DIR: credentials in the URL are not accepted');
    if (url.search || url.hash) throw new Error('DATA_DIR: the URL must not have a query or fragment');
    return { kind: 'http', base: `${url.origin}${withSlash(url.pathname)}` };
  }
  return { kind: 'local', dir: dataDir };
}

/** The key of `relPath` under a prefix ("" or ending in "/"). */
export function keyOf(prefix: string, relPath: string): string {
  return (
    prefix +
    relPath
      .split('/')
      .filter((p) => p !== '' && p !== '.')
      .join('/')
  );
}

function withSlash(p: string): string {
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}
