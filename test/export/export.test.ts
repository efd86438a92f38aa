/**
 * Epoch export to WebDataset shards against the service listening on loopback: the shards are
 * /batches' bytes, shards.json says them, a re-run skips complete shards, a broken stream leaves
 * no file under a shard's name, another request is refused; read back by Python's tarfile and the
 * client's reader; and the npm script itself runs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardPlan, shardRequest } from '../../src/export/plan.js';
import { exportEpochs, type EpochIndex } from '../../src/export/run.js';
import { binary, serveCore, type Served } from '../support/app-fixture.js';
import { pythonMissing, runPython } from '../support/python-service.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let s: Served;
let server: Server;
let url: string;
beforeAll(async () => {
  s = await serveCore();
  server = s.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  s.cleanup();
});

const req = { classes: ['metastasis', 'adipose'], minFraction: 0.3, size: 32, count: 10, seed: 3 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('exportEpochs', () => {
  it('writes each shard as the bytes /batches streams for it, with shards.json', async () => {
    const out = join(s.dir, 'export-a');
    const index = await exportEpochs({ baseUrl: url, request: req, epochs: [0, 1], outDir: out, shardSize: 4 });
    expect(index.map((e) => e.shards.map((x) => [x.name, x.samples]))).toEqual(
      [0, 1].map(() => [
        ['shard-000000.tar', 4],
        ['shard-000001.tar', 4],
        ['shard-000002.tar', 2],
      ]),
    );
    for (const epoch of [0, 1]) {
      const dir = join(out, `epoch-000${epoch}`);
      const written = JSON.parse(readFileSync(join(dir, 'shards.json'), 'utf8')) as EpochIndex;
      expect(written.datasetVersion).toBe(s.generation().datasetVersion);
      expect(written.request).toEqual(req);
      for (const [k, plan] of shardPlan(10, 4).entries()) {
        const file = readFileSync(join(dir, plan.name));
        const res = await request(s.app)
          .post('/batches')
          .send(shardRequest(req, epoch, plan))
          .buffer(true)
          .parse(binary);
        expect((res.body as Buffer).equals(file)).toBe(true);
        expect(written.shards[k]).toEqual({
          name: plan.name,
          samples: plan.count,
          bytes: file.length,
          sha256: sha(file),
        });
      }
      expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
    }
    // Epoch 1 is another permutation, not a copy of epoch 0.
    expect(index[1]!.shards[0]!.sha256).not.toBe(index[0]!.shards[0]!.sha256);
  }, 60_000);

  it('a re-run skips complete shards and writes only the missing one; another request is refused', async () => {
    const out = join(s.dir, 'export-b');
    const first = await exportEpochs({ baseUrl: url, request: req, epochs: [2], outDir: out, shardSize: 4 });
    rmSync(join(out, 'epoch-0002', 'shard-000001.tar'));
    const events: Array<[string, boolean]> = [];
    const second = await exportEpochs({
      baseUrl: url,
      request: req,
      epochs: [2],
      outDir: out,
      shardSize: 4,
      onShard: (e) => events.push([e.shard, e.skipped]),
    });
    expect(events).toEqual([
      ['shard-000000.tar', true],
      ['shard-000001.tar', false],
      ['shard-000002.tar', true],
    ]);
    expect(second).toEqual(first);
    await expect(
      exportEpochs({ baseUrl: url, request: { ...req, seed: 4 }, epochs: [2], outDir: out, shardSize: 4 }),
    ).rejects.toThrow(/another request/);
    await expect(
      exportEpochs({
        baseUrl: url,
        request: { ...req, epoch: 1 },
        epochs: [2],
        outDir: join(s.dir, 'x'),
        shardSize: 4,
      }),
    ).rejects.toThrow(/must not set epoch/);
  }, 60_000);

  it("a stream that breaks mid-shard leaves no file under the shard's name (and no partial)", async () => {
    const whole = (
      await request(s.app)
        .post('/batches')
        .send(shardRequest(req, 0, shardPlan(10, 4)[0]!))
        .buffer(true)
        .parse(binary)
    ).body as Buffer;
    const broken = createServer((_q, r) => {
      r.writeHead(200, {
        'content-type': 'application/x-tar',
        'x-dataset-version': 'v',
        'content-length': String(whole.length),
      });
      r.write(whole.subarray(0, 3000), () => r.destroy());
    });
    broken.listen(0, '127.0.0.1');
    await new Promise((resolve) => broken.once('listening', resolve));
    const out = join(s.dir, 'export-c');
    try {
      await expect(
        exportEpochs({
          baseUrl: `http://127.0.0.1:${(broken.address() as AddressInfo).port}`,
          request: req,
          epochs: [0],
          outDir: out,
          shardSize: 4,
        }),
      ).rejects.toThrow();
    } finally {
      broken.close();
    }
    expect(readdirSync(join(out, 'epoch-0000'))).toEqual([]);
  });

  it("Python reads the shards: tarfile sees WebDataset keys and extensions, the client's reader decodes them", async (ctx) => {
    const missing = pythonMissing();
    if (missing) ctx.skip(missing);
    const dir = join(s.dir, 'export-a', 'epoch-0000');
    const script = `
import json, sys, tarfile
from camelyon_patches.client import read_shard
d = sys.argv[1]
index = json.load(open(d + "/shards.json"))
seen = []
for shard in index["shards"]:
    with tarfile.open(d + "/" + shard["name"]) as t:
        names = t.getnames()
    keys = sorted({n.split(".", 1)[0] for n in names})
    exts = sorted({n.split(".", 1)[1] for n in names})
    assert exts == ["jpg", "json", "mask.png"], exts
    assert len(keys) == shard["samples"], (keys, shard)
    samples = list(read_shard(d + "/" + shard["name"]))
    assert [f"{s.descriptor['index']:06d}" for s in samples] == keys
    for s in samples:
        assert s.image.shape == (32, 32, 3) and s.mask.shape == (32, 32)
    seen += [s.descriptor["index"] for s in samples]
assert seen == list(range(10)), seen
print("OK", len(seen))
`;
    const run = await runPython(['-c', script, dir], {
      cwd: ROOT,
      env: { PYTHONPATH: join(ROOT, 'clients/python') },
      timeoutMs: 30_000,
    });
    expect(run.output.trim(), run.output).toBe('OK 10');
  });

  it('npm run export (the script) writes the same shards and reports', async () => {
    const reqPath = join(s.dir, 'req.json');
    writeFileSync(reqPath, JSON.stringify(req));
    const out = join(s.dir, 'export-cli');
    // Asynchronously: the service it talks to lives in this process, whose event loop must run.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/export.ts',
        '--request',
        reqPath,
        '--epochs',
        '0-1',
        '--out',
        out,
        '--shard-size',
        '4',
        '--url',
        url,
      ],
      { cwd: ROOT },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const r = { status, stderr };
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/export: 2 epoch\(s\), 6 shards, 20 samples/);
    for (const e of ['epoch-0000', 'epoch-0001']) {
      expect(readFileSync(join(out, e, 'shards.json'), 'utf8')).toBe(
        readFileSync(join(s.dir, 'export-a', e, 'shards.json'), 'utf8'),
      );
    }
    expect(existsSync(join(out, 'epoch-0000', 'request.json'))).toBe(true);
  }, 60_000);
});
