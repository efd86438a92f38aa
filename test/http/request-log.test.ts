import { describe, expect, it } from 'vitest';
import { requestLogLevel } from '../../src/http/request-log.js';

describe('requestLogLevel', () => {
  it.each([
    ['GET', '/slides/tumor_001/image_files/12/3_4.jpeg', 200, 'debug'],
    ['GET', '/slides/tumor_001/image_files/12/3_4.jpeg?tileSize=254&overlap=1', 304, 'debug'],
    ['HEAD', '/slides/tumor_001/mask_files/12/3_4.png?style=color', 200, 'debug'],
    // A failed tile read is worth seeing (a scraper without a key, a broken viewer).
    ['GET', '/slides/tumor_001/image_files/12/3_4.jpeg', 401, 'info'],
    ['GET', '/slides/tumor_001/mask_files/99/0_0.png', 404, 'info'],
    // `_files/` elsewhere than the tile routes' path does not hide a request from the info log.
    ['POST', '/admin/ingest?_files/', 202, 'info'],
    ['GET', '/admin/ingest?x=/image_files/1/0_0.jpeg', 200, 'info'],
    ['GET', '/slides?class=_files/', 200, 'info'],
    ['GET', '/x_files/', 404, 'info'],
    ['GET', '/slides/a/b/image_files/1/0_0.jpeg', 200, 'info'],
    ['POST', '/slides/tumor_001/image_files/12/3_4.jpeg', 404, 'info'],
    ['GET', '/slides', 200, 'info'],
    ['GET', '/slides/tumor_001/image_files/12/3_4.jpeg', 503, 'error'],
    ['POST', '/batches', 500, 'error'],
  ] as const)('%s %s %d -> %s', (method, url, status, level) => {
    expect(requestLogLevel(method, url, status)).toBe(level);
  });

  it('an error object makes it an error whatever the status', () => {
    expect(requestLogLevel('GET', '/slides/t/image_files/1/0_0.jpeg', 200, new Error('x'))).toBe('error');
  });
});
