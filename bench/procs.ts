/**
 * Processes the bench starts: every PID is recorded and stopped by PID at the end (SIGTERM, then
 * SIGKILL), also on Ctrl-C, SIGTERM and uncaught errors. Plus waiting for a port, free ports and
 * the RSS of a process.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

export interface Started {
  name: string;
  pid: number;
  child: ChildProcess | null;
  /** Last lines of output, for error messages. */
  tail(): string;
  exited(): boolean;
  /** How it ended ("code 1", "signal SIGKILL"), or null while it runs. */
  exitStatus(): string | null;
}

const started: Started[] = [];
/** PIDs started by others on our behalf (spawn-fcgi's children). */
const adopted: Array<{ name: string; pid: number }> = [];

export function recordedPids(): Array<{ name: string; pid: number }> {
  return [...started.map((s) => ({ name: s.name, pid: s.pid })), ...adopted];
}

/** Starts a program; its stdout/stderr are kept (last 8 KB) and echoed when `echo` is set. */
export function startProcess(name: string, cmd: string, args: string[], opts: SpawnOptions & { echo?: boolean } = {}): Started {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let out = '';
  let done = false;
  let status: string | null = null;
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-8192);
    if (opts.echo) process.stderr.write(b);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', (code, signal) => {
    done = true;
    status = signal ? `signal ${signal}` : `code ${code}`;
  });
  const s: Started = { name, pid: child.pid, child, tail: () => out, exited: () => done, exitStatus: () => status };
  started.push(s);
  return s;
}

/** Records a PID this process did not spawn directly (e.g. printed by spawn-fcgi). */
export function adoptPid(name: string, pid: number): void {
  adopted.push({ name, pid });
}

/** Runs a program to completion; resolves with its output, rejects on a non-zero exit. */
export function runToEnd(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const s = startProcess(name, cmd, args, opts);
    let stdout = '';
    let stderr = '';
    s.child!.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    s.child!.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    s.child!.on('error', reject);
    s.child!.on('exit', (code, signal) => {
      forget(s.pid);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${name} exited with ${code ?? signal}:\n${stderr.slice(-2000) || stdout.slice(-2000)}`));
    });
  });
}

function forget(pid: number): void {
  const i = started.findIndex((s) => s.pid === pid);
  if (i >= 0) started.splice(i, 1);
}

/** Running and not a zombie (a zombie has exited and only waits for its parent to reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Stops one recorded process by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) {
    // A child of ours stays a zombie until reaped; its exit event means it is gone.
    const s = started.find((x) => x.pid === pid);
    if (s?.exited()) break;
    await sleep(50);
  }
  const s = started.find((x) => x.pid === pid);
  if (alive(pid) && !s?.exited()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  forget(pid);
  const a = adopted.findIndex((x) => x.pid === pid);
  if (a >= 0) adopted.splice(a, 1);
}

export async function stopAll(): Promise<void> {
  const pids = recordedPids().map((p) => p.pid).reverse();
  for (const pid of pids) await stopPid(pid);
}

/** Synchronous last resort (process 'exit' handlers cannot await). */
export function killAllNow(): void {
  for (const { pid } of recordedPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

let hooked = false;
/** Stops everything on Ctrl-C / SIGTERM / a crash, after running `cleanup`. */
export function installExitHooks(cleanup: () => void): void {
  if (hooked) return;
  hooked = true;
  const bail = (why: string, code: number) => {
    process.stderr.write(`\nbench: ${why}: stopping ${recordedPids().length} process(es)\n`);
    void stopAll().finally(() => {
      cleanup();
      process.exit(code);
    });
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  process.on('exit', () => {
    killAllNow();
    cleanup();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number, proc?: Started): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc?.exited()) throw new Error(`${proc.name} exited before listening:\n${proc.tail()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms${proc ? `:\n${proc.tail()}` : ''}`);
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process, in bytes. */
export function rssOf(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}
