/** Pure parts of the storage layer, by table: DATA_DIR locations, range coalescing, ListObjectsV2 pages, config. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { isRemote, keyOf, parseDataLocation } from '../../src/storage/location.js';
import { blocksOf, coalesce } from '../../src/storage/ranges.js';
import { parseListPage } from '../../src/storage/s3-store.js';

describe('parseDataLocation', () => {
  it.each([
    ['s3://bucket/prefix', { kind: 's3', bucket: 'bucket', prefix: 'prefix/' }],
    ['s3://my.bucket-1/a/b/', { kind: 's3', bucket: 'my.bucket-1', prefix: 'a/b/' }],
    ['s3://bucket', { kind: 's3', bucket: 'bucket', prefix: '' }],
    ['S3://bucket/', { kind: 's3', bucket: 'bucket', prefix: '' }],
    ['https://cdn.example.org/data', { kind: 'http', base: 'https://cdn.example.org/data/' }],
    ['http://127.0.0.1:8081/', { kind: 'http', base: 'http://127.0.0.1:8081/' }],
    ['/srv/camelyon', { kind: 'local', dir: '/srv/camelyon' }],
    ['data', { kind: 'local', dir: 'data' }],
  ])('%s', (raw, want) => {
    expect(parseDataLocation(raw)).toEqual(want);
    expect(isRemote(raw)).toBe(want.kind !== 'local');
  });

  it.each([
    ['s3://UPPER/x', /valid S3 bucket/],
    ['s3://a/x', /valid S3 bucket/],
    ['https://user:secret@host/x', /credentials in the URL/],
    ['https://host/x?token=1', /query or fragment/],
  ])('refuses %s, naming DATA_DIR and never echoing secrets', (raw, why) => {
    expect(() => parseDataLocation(raw)).toThrow(why);
    expect(() => parseDataLocation(raw)).toThrow(/^DATA_DIR/);
    try {
      parseDataLocation(raw);
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });

  it('keys join a prefix and a relative path without empty or dot segments', () => {
    expect(keyOf('ds/', 'slides/a.tif')).toBe('ds/slides/a.tif');
    expect(keyOf('', './slides//a.tif')).toBe('slides/a.tif');
  });
});

describe('coalesce', () => {
  const r = (offset: number, length: number) => ({ offset, length });
  it.each([
    ['adjacent ranges join', [r(0, 10), r(10, 5)], 0, 100, [{ offset: 0, length: 15, members: [0, 1] }]],
    ['input order does not matter', [r(10, 5), r(0, 10)], 0, 100, [{ offset: 0, length: 15, members: [1, 0] }]],
    [
      'a hole within maxGap is read through',
      [r(0, 10), r(14, 6)],
      4,
      100,
      [{ offset: 0, length: 20, members: [0, 1] }],
    ],
    [
      'a hole beyond maxGap splits',
      [r(0, 10), r(15, 5)],
      4,
      100,
      [
        { offset: 0, length: 10, members: [0] },
        { offset: 15, length: 5, members: [1] },
      ],
    ],
    [
      'maxSpan splits',
      [r(0, 60), r(60, 60)],
      0,
      100,
      [
        { offset: 0, length: 60, members: [0] },
        { offset: 60, length: 60, members: [1] },
      ],
    ],
    [
      'overlapping and contained ranges join',
      [r(0, 50), r(10, 5)],
      0,
      100,
      [{ offset: 0, length: 50, members: [0, 1] }],
    ],
    ['nothing', [], 0, 100, []],
  ])('%s', (_name, ranges, gap, span, want) => {
    expect(coalesce(ranges, gap, span)).toEqual(want);
  });

  it.each([
    [r(0, 1), 1024, { first: 0, last: 0 }],
    [r(1023, 2), 1024, { first: 0, last: 1 }],
    [r(2048, 1024), 1024, { first: 2, last: 2 }],
    [r(100, 5000), 1024, { first: 0, last: 4 }],
  ])('blocksOf %o in blocks of %i', (range, size, want) => {
    expect(blocksOf(range, size)).toEqual(want);
  });
});

describe('parseListPage', () => {
  const page = (truncated: boolean) => `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>ds/</Prefix><KeyCount>3</KeyCount><IsTruncated>${truncated}</IsTruncated>
  ${truncated ? '<NextContinuationToken>tok+/=</NextContinuationToken>' : ''}
  <Contents><Key>ds/slides/a.tif</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;abc123&quot;</ETag><Size>1234</Size></Contents>
  <Contents><Key>ds/slides/</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;d&quot;</ETag><Size>0</Size></Contents>
</ListBucketResult>`;
  it('objects relative to the prefix, with ETag (quotes kept), size and time; folder markers skipped', () => {
    expect(parseListPage(page(false), 'ds/')).toEqual({
      objects: [{ key: 'slides/a.tif', size: 1234, etag: '"abc123"', lastModifiedMs: Date.UTC(2026, 0, 2, 3, 4, 5) }],
      next: null,
    });
  });
  it('a truncated page gives its continuation token', () => {
    expect(parseListPage(page(true), 'ds/').next).toBe('tok+/=');
  });
  it('anything else is the store failing, not an empty bucket', () => {
    expect(() => parseListPage('<Error><Code>AccessDenied</Code></Error>', '')).toThrow(/STORE_UNAVAILABLE/);
  });
});

describe('config', () => {
  it('keeps an s3:// or http(s):// DATA_DIR as given and reads the remote settings', () => {
    const c = loadConfig({
      DATA_DIR: 's3://bucket/camelyon',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
      REMOTE_CACHE_BYTES: '1048576',
    });
    expect(c.dataDir).toBe('s3://bucket/camelyon');
    expect(c.remote).toMatchObject({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      cacheBytes: 1048576,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
      readMode: 'coalesced',
    });
  });
  it.each([
    [{ DATA_DIR: 's3://x/y' }, /DATA_DIR/],
    [{ AWS_ACCESS_KEY_ID: 'id' }, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
    [{ S3_ENDPOINT: 'localhost:9000' }, /S3_ENDPOINT/],
    [{ REMOTE_RETRIES: '-1' }, /REMOTE_RETRIES/],
    [{ REMOTE_READ_MODE: 'fuse' }, /REMOTE_READ_MODE/],
  ])('a bad value fails at boot naming the variable: %o', (env, why) => {
    expect(() => loadConfig(env)).toThrow(why);
  });
});
