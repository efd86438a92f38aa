/**
 * dev/procs.ts with real child processes: a tiny node server started, waited for, measured and
 * stopped; children that die before listening (a clear error at once, not at the deadline); a
 * child that ignores SIGTERM; a shell whose own child must go with it (process group).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  isRunning,
  recordedPids,
  rssOf,
  runProcess,
  startProcess,
  stopAll,
  stopProcess,
  waitForHttp,
  waitForLine,
  waitForPort,
  type Started,
} from '../../dev/procs.js';

const node = (script: string, name = 'tiny') => startProcess(name, process.execPath, ['-e', script]);

/** A server on 127.0.0.1:port answering 200 on /ok, 404 elsewhere, after `delayMs`. */
const SERVER = (port: number, delayMs = 0) => `
  const http = require('node:http');
  setTimeout(() => http.createServer((q, r) => r.writeHead(q.url === '/ok' ? 200 : 404).end('x'))
    .listen(${port}, '127.0.0.1', () => console.log('listening on ${port}')), ${delayMs});`;

/** Far beyond what any wait below needs: a test only reaches it if the wait ignored the exit. */
const NEVER_MS = 120_000;

afterAll(() => stopAll());

describe('start, wait, measure, stop', () => {
  it('waits for a server, reads its RSS, stops it with SIGTERM, and it is gone', async () => {
    const port = await freePort();
    const s = node(SERVER(port, 300));
    expect(recordedPids()).toContainEqual({ name: 'tiny', pid: s.pid });
    await waitForHttp(`http://127.0.0.1:${port}/ok`, 30_000, { proc: s });
    await waitForPort(port, 30_000, { proc: s });
    expect(s.tail()).toContain(`listening on ${port}`);
    const rss = rssOf(s.pid);
    expect(rss!.rss).toBeGreaterThan(1024 * 1024);
    expect(rss!.peak).toBeGreaterThanOrEqual(rss!.rss);
    expect(await stopProcess(s)).toBe('stopped by SIGTERM (signal SIGTERM)');
    expect(s.exited()).toBe(true);
    expect(isRunning(s.pid)).toBe(false);
    expect(rssOf(s.pid)).toBeNull();
    expect(recordedPids().map((p) => p.pid)).not.toContain(s.pid);
    await expect(fetch(`http://127.0.0.1:${port}/ok`)).rejects.toThrow();
    expect(await stopProcess(s)).toBe('had already exited (signal SIGTERM)');
  });

  it('waits for HTTP 200, not for any answer: a 404 path is not ready', async () => {
    const port = await freePort();
    const s = node(SERVER(port));
    try {
      await waitForPort(port, 30_000, { proc: s });
      await expect(waitForHttp(`http://127.0.0.1:${port}/nope`, 500, { proc: s })).rejects.toThrow(
        `tiny (pid ${s.pid}): no HTTP 200 from http://127.0.0.1:${port}/nope within 500 ms`,
      );
    } finally {
      await stopProcess(s);
    }
  });

  it('returns what a line gives: the port a server printed', async () => {
    const s = node(`require('node:http').createServer().listen(0, '127.0.0.1', function () {
      console.log(JSON.stringify({ msg: 'listening', port: this.address().port }));
    });`);
    try {
      const port = await waitForLine(s, 'listening line', (l) => /"port":(\d+)/.exec(l)?.[1], 30_000);
      await waitForPort(Number(port), 30_000, { proc: s });
    } finally {
      await stopProcess(s);
    }
  });
});

describe('a child that exits before listening', () => {
  const dying = () => node("console.log('starting'); console.error('boom: no such index'); process.exit(3)", 'dying');
  const expectClear = (e: unknown, s: Started) => {
    const msg = (e as Error).message;
    expect(msg).toContain(`dying (pid ${s.pid}) exited (code 3) before`);
    expect(msg).toContain('boom: no such index');
  };

  it('fails waitForPort at once, naming it and showing its last output', async () => {
    const s = dying();
    const e = await waitForPort(await freePort(), NEVER_MS, { proc: s }).catch((x: unknown) => x);
    expectClear(e, s);
  }, 30_000);

  it('fails waitForHttp at once', async () => {
    const s = dying();
    const url = `http://127.0.0.1:${await freePort()}/`;
    const e = await waitForHttp(url, NEVER_MS, { proc: s }).catch((x: unknown) => x);
    expectClear(e, s);
  }, 30_000);

  it('fails waitForLine at once', async () => {
    const s = dying();
    const e = await waitForLine(s, 'listening line', (l) => (l.includes('listening') ? l : undefined), NEVER_MS).catch(
      (x: unknown) => x,
    );
    expectClear(e, s);
  }, 30_000);

  it('fails at once too when a child it left keeps the output pipes open; stopping ends that child', async () => {
    const s = startProcess('dying', 'sh', ['-c', 'sleep 60 & echo "child $!"; echo boom: no such index >&2; exit 3'], {
      group: true,
    });
    const e = await waitForPort(await freePort(), NEVER_MS, { proc: s }).catch((x: unknown) => x);
    expectClear(e, s);
    const child = Number(/^child (\d+)$/m.exec(s.tail())?.[1]);
    expect(isRunning(child)).toBe(true);
    expect(await stopProcess(s)).toBe('stopped by SIGTERM (code 3)');
    expect(isRunning(child)).toBe(false);
  }, 30_000);

  it('without a child to watch, the error names the port and the timeout', async () => {
    const port = await freePort();
    await expect(waitForPort(port, 300)).rejects.toThrow(`no listener on 127.0.0.1:${port} within 300 ms`);
  });
});

describe('stopping', () => {
  it('SIGKILLs a child that ignores SIGTERM once the grace is over', async () => {
    const deaf = "process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(Date.now, 1e3)";
    const s = node(deaf);
    await waitForLine(s, "'up' line", (l) => (l === 'up' ? l : undefined), 30_000);
    expect(await stopProcess(s, 2000)).toBe('killed with SIGKILL after a 2000 ms grace');
    expect(s.exitStatus()).toBe('signal SIGKILL');
    expect(s.tail()).toContain('ignored');
  });

  it('stops a process group: the shell and the child it started', async () => {
    const s = startProcess('shell', 'sh', ['-c', 'sleep 60 & echo "child $!"; wait'], { group: true });
    const child = Number(await waitForLine(s, 'child pid', (l) => /^child (\d+)$/.exec(l)?.[1], 30_000));
    expect(isRunning(child)).toBe(true);
    expect(await stopProcess(s)).toBe('stopped by SIGTERM (signal SIGTERM)');
    expect(isRunning(child)).toBe(false);
  });

  it('stops a PID it did not start (by /proc), and says when there was nothing to stop', async () => {
    const outer = startProcess('outer', 'sh', ['-c', 'sleep 60 & echo "child $!"; exec sleep 60'], { group: false });
    try {
      const pid = Number(await waitForLine(outer, 'child pid', (l) => /^child (\d+)$/.exec(l)?.[1], 30_000));
      expect(await stopProcess(pid)).toBe('stopped by SIGTERM');
      expect(isRunning(pid)).toBe(false);
      expect(await stopProcess(pid)).toBe('was not running');
    } finally {
      await stopProcess(outer);
    }
  });
});

describe('running to the end, ports, RSS', () => {
  it('collects all output and the exit code, and kills a run past its timeout', async () => {
    const script = "console.log('out'); console.error('err'); process.exit(2)";
    const ok = await runProcess('echo', process.execPath, ['-e', script]);
    expect(ok).toMatchObject({ code: 2, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const slow = await runProcess('slow', process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 300 });
    expect(slow).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
    await expect(runProcess('missing', '/nonexistent/program', [])).rejects.toThrow('missing: could not start');
  });

  it('writes the whole output to a log file as well, and keeps the last lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procs-'));
    try {
      const script = "for (let i = 0; i < 500; i++) console.log('line ' + i); console.error('last')";
      const s = startProcess('logger', process.execPath, ['-e', script], { logFile: join(dir, 'out.log') });
      expect(await s.done).toEqual({ code: 0, signal: null });
      const logged = readFileSync(join(dir, 'out.log'), 'utf8').split('\n');
      expect(logged).toHaveLength(502);
      expect(logged.filter((l) => l.startsWith('line '))).toHaveLength(500);
      expect(logged).toContain('last');
      expect(s.tail(3).split('\n')).toHaveLength(3);
      expect(s.tail(1000).split('\n')).toHaveLength(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a port nothing listens on, that can be bound', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });

  it('reads the RSS of this process, and null for a PID no process has', () => {
    expect(rssOf(process.pid)!.rss).toBeGreaterThan(1024 * 1024);
    expect(rssOf(2147483646)).toBeNull();
    expect(isRunning(2147483646)).toBe(false);
  });
});
