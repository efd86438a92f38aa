/**
 * S3 and S3-compatible stores (MinIO, Ceph, s3rver): requests signed with SigV4 by `aws4` (one
 * small, dependency-free, long-kept signer) and sent over the pooled keep-alive client; listing
 * with ListObjectsV2 (XML, parsed by fast-xml-parser, already a dependency). Path-style URLs
 * (endpoint/bucket/key) when an endpoint is given, virtual-hosted (bucket.s3.region...) on AWS.
 */
import aws4 from 'aws4';
import { XMLParser } from 'fast-xml-parser';
import type { HttpClient } from './http-client.js';
import { remoteStore } from './remote-store.js';
import { storeUnavailable, type ObjectInfo, type ObjectStore } from './store.js';

export interface S3Settings {
  bucket: string;
  prefix: string;
  region: string;
  /** An S3-compatible server's base URL (path-style); null = AWS (virtual-hosted). */
  endpoint: string | null;
  /** null = anonymous (a public bucket): requests are not signed. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
}

/** A page of ListObjectsV2 is at most 1,000 keys, ~300 KB of XML. */
const MAX_LIST_PAGE_BYTES = 16 * 1024 * 1024;
/** Pages followed at most (a million objects): a dataset is far smaller. */
const MAX_LIST_PAGES = 1000;

const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (n) => n === 'Contents' });

export function s3Store(s: S3Settings, client: HttpClient): ObjectStore {
  const host = s.endpoint ? new URL(s.endpoint) : new URL(`https://${s.bucket}.s3.${s.region}.amazonaws.com/`);
  const bucketPath = s.endpoint ? `${host.pathname.replace(/\/+$/, '')}/${s.bucket}/` : '/';
  const urlOf = (key: string) => {
    const path = bucketPath + (s.prefix + key).split('/').map(encodeURIComponent).join('/');
    return new URL(path, host);
  };
  const headers = (method: 'GET' | 'HEAD', url: URL, extra: Record<string, string>) => {
    if (!s.credentials) return extra;
    const req = {
      host: url.host,
      path: url.pathname + url.search,
      method,
      service: 's3',
      region: s.region,
      headers: { ...extra },
    };
    aws4.sign(req, s.credentials);
    return req.headers as Record<string, string>;
  };
  const list = async (dir: string): Promise<ObjectInfo[]> => {
    const prefix = s.prefix + (dir === '' || dir === '.' ? '' : `${dir.replace(/\/+$/, '')}/`);
    const out: ObjectInfo[] = [];
    let token: string | null = null;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const url = new URL(bucketPath, host);
      url.searchParams.set('list-type', '2');
      url.searchParams.set('prefix', prefix);
      if (token) url.searchParams.set('continuation-token', token);
      const a = await client.send({
        op: 'list',
        method: 'GET',
        url,
        headers: () => headers('GET', url, {}),
        maxBytes: MAX_LIST_PAGE_BYTES,
      });
      if (a.status !== 200) throw storeUnavailable(`list answered ${a.status}`);
      const r = parseListPage(a.body.toString('utf8'), s.prefix);
      out.push(...r.objects);
      if (!r.next) return out;
      token = r.next;
    }
    throw storeUnavailable(`list: more than ${MAX_LIST_PAGES} pages`);
  };
  const label = s.endpoint ? `s3://${s.bucket}/${s.prefix} at ${host.origin}` : `s3://${s.bucket}/${s.prefix}`;
  return remoteStore({ kind: 's3', label, client, urlOf, headers, list });
}

/** One ListObjectsV2 page: objects (keys made relative to `prefix`) and the continuation token. */
export function parseListPage(body: string, prefix: string): { objects: ObjectInfo[]; next: string | null } {
  const doc = xml.parse(body) as {
    ListBucketResult?: {
      Contents?: Array<{ Key: string; Size: string; ETag?: string; LastModified?: string }>;
      IsTruncated?: string;
      NextContinuationToken?: string;
    };
  };
  const r = doc.ListBucketResult;
  if (!r) throw storeUnavailable('list: not a ListBucketResult');
  const objects = (r.Contents ?? [])
    .filter((c) => c.Key.startsWith(prefix) && !c.Key.endsWith('/'))
    .map((c) => {
      const lm = c.LastModified ? Date.parse(c.LastModified) : NaN;
      return {
        key: c.Key.slice(prefix.length),
        size: Number(c.Size),
        etag: c.ETag ?? null,
        lastModifiedMs: Number.isFinite(lm) ? lm : 0,
      };
    });
  const next = r.IsTruncated === 'true' && r.NextContinuationToken ? r.NextContinuationToken : null;
  return { objects, next };
}
