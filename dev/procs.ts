/**
 * Development tooling shared by bench/, scripts/ and test/ (not part of the service: nothing in
 * src/ imports it). Child processes are started with their PID recorded and their output kept;
 * servers are waited for with a bounded timeout and an error that names the child and shows its
 * last output; processes (or whole process groups) are stopped by SIGTERM, then SIGKILL after a
 * grace; plus free ports and the RSS of a process. Liveness and RSS read /proc (Linux).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Started {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Leader of its own process group: stopping it signals the whole group. */
  group: boolean;
  /** Its last lines of output (stdout and stderr, line by line as they came), for error messages. */
  tail(lines?: number): string;
  exited(): boolean;
  /** How it ended ("code 1", "signal SIGKILL"), or null while it runs. */
  exitStatus(): string | null;
  /** Settles once the process has exited and its output is read (at most DRAIN_MS after its exit). */
  done: Promise<Exit>;
  /** Calls `fn` with every later complete line of output; returns the unsubscribe. */
  onLine(fn: (line: string) => void): () => void;
}

export interface StartOptions extends SpawnOptions {
  /** Start it as a process group leader (for programs that start children: npx, tsx, shells). */
  group?: boolean;
  /** Also write all its output to this file (replaced). */
  logFile?: string;
}

/** Lines kept for tail(); a longer line is cut, so a flood cannot hold much memory. */
const KEPT_LINES = 200;
const LINE_CHARS = 2000;
/** How long a process may take to disappear after SIGKILL before stopping it is an error. */
const AFTER_KILL_MS = 10_000;
/** How long after its exit the output of a process is still awaited (a grandchild may hold the pipes). */
const DRAIN_MS = 500;

const started: Started[] = [];
/** PIDs started by others on our behalf (spawn-fcgi's children). */
const adopted: Array<{ name: string; pid: number }> = [];

export function recordedPids(): Array<{ name: string; pid: number }> {
  return [...started.map((s) => ({ name: s.name, pid: s.pid })), ...adopted];
}

/** Records a PID this process did not spawn directly (e.g. printed by spawn-fcgi). */
export function adoptPid(name: string, pid: number): void {
  adopted.push({ name, pid });
}

function forget(pid: number): void {
  const i = started.findIndex((s) => s.pid === pid);
  if (i >= 0) started.splice(i, 1);
  const a = adopted.findIndex((x) => x.pid === pid);
  if (a >= 0) adopted.splice(a, 1);
}

/** Starts a program with piped output (unless `stdio` says otherwise) and records its PID. */
export function startProcess(name: string, cmd: string, args: string[], opts: StartOptions = {}): Started {
  const { group = false, logFile, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: group, ...spawnOpts });
  // Without a listener a failed spawn's 'error' event would crash the caller later.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const recent: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const log = logFile ? createWriteStream(logFile) : null;
  const keep = (line: string) => {
    recent.push(line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)}...` : line);
    if (recent.length > KEPT_LINES) recent.shift();
    for (const fn of listeners) fn(line);
  };
  const partial: string[] = [];
  [child.stdout, child.stderr].forEach((stream, k) => {
    partial[k] = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      log?.write(chunk);
      const parts = (partial[k] + chunk).split('\n');
      partial[k] = parts.pop() ?? '';
      parts.forEach(keep);
    });
  });
  let status: string | null = null;
  const closed = new Promise<void>((resolve) => child.once('close', () => (log ? log.end(resolve) : resolve())));
  const done = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal ? `signal ${signal}` : `code ${code}`;
      // Its last words matter most in an error: wait for the pipes to drain (and the log file to
      // be written), but not for a grandchild that keeps them open.
      const settle = () => resolve({ code, signal });
      void closed.then(settle);
      setTimeout(settle, DRAIN_MS).unref();
    });
  });
  const s: Started = {
    name,
    pid: child.pid,
    child,
    group,
    done,
    tail: (lines = 40) => [...recent, ...partial.filter(Boolean)].slice(-lines).join('\n'),
    exited: () => status !== null,
    exitStatus: () => status,
    onLine: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
  };
  started.push(s);
  return s;
}

export interface RunResult extends Exit {
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they came. */
  output: string;
  /** Killed (SIGKILL) because it ran longer than `timeoutMs`. */
  timedOut: boolean;
}

/**
 * Runs a program to its end (all its output read) and resolves however it ended; after
 * `timeoutMs` it is killed with SIGKILL (its group too, with `group`). Rejects only when it
 * cannot be started.
 */
export function runProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: StartOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const { timeoutMs, ...startOpts } = opts;
  return new Promise((resolve, reject) => {
    let s: Started;
    try {
      s = startProcess(name, cmd, args, startOpts);
    } catch (e) {
      reject(e);
      return;
    }
    const r: RunResult = { code: null, signal: null, stdout: '', stderr: '', output: '', timedOut: false };
    s.child.stdout?.on('data', (t: string) => ((r.stdout += t), (r.output += t)));
    s.child.stderr?.on('data', (t: string) => ((r.stderr += t), (r.output += t)));
    const timer =
      timeoutMs === undefined
        ? null
        : setTimeout(() => {
            r.timedOut = true;
            signalProcess(s, 'SIGKILL');
          }, timeoutMs);
    s.child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      forget(s.pid);
      reject(e);
    });
    s.child.once('close', (code, sig) => {
      if (timer) clearTimeout(timer);
      forget(s.pid);
      resolve({ ...r, code, signal: sig });
    });
  });
}

/** Runs a program to its end; resolves with its output, rejects on a non-zero exit. */
export async function runToEnd(
  name: string,
  cmd: string,
  args: string[],
  opts: StartOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const r = await runProcess(name, cmd, args, opts);
  const out = r.stderr.slice(-2000) || r.stdout.slice(-2000);
  if (r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal}:\n${out}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The state letter of /proc/<pid>/stat and its process group, or null when there is no such process. */
function procStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may itself hold spaces and parentheses: read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

/** Running and not a zombie (a zombie has exited and only waits for its parent to reap it). */
export function isRunning(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** The running (not zombie) members of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const st = procStat(pid);
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') out.push(pid);
  }
  return out;
}

/** Sends `sig` to a started process (to its whole group with `group`), unless it has already exited. */
export function signalProcess(s: Started, sig: NodeJS.Signals): void {
  if (!s.exited() || s.group) signal(s.pid, s.group, sig);
}

function signal(pid: number, group: boolean, sig: NodeJS.Signals): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops a process, or with `group` its whole process group: SIGTERM, then SIGKILL after
 * `graceMs`, then waits until it is gone. A child we started is judged by its own exit (so a
 * reaped PID, perhaps reused since, is never signalled); any other PID by /proc. Returns how it
 * ended; throws when it is still there well after SIGKILL.
 */
export async function stopProcess(target: Started | number, graceMs = 3000): Promise<string> {
  const s = typeof target === 'number' ? started.find((x) => x.pid === target) : target;
  const pid = typeof target === 'number' ? target : target.pid;
  const group = s?.group ?? false;
  const name = s?.name ?? adopted.find((a) => a.pid === pid)?.name ?? `pid ${pid}`;
  const gone = () => (s ? s.exited() : !isRunning(pid)) && (!group || groupMembers(pid).length === 0);
  try {
    if (gone()) return s?.exitStatus() ? `had already exited (${s.exitStatus()})` : 'was not running';
    signal(pid, group, 'SIGTERM');
    if (await waitGone(gone, graceMs, s)) return `stopped by SIGTERM${s ? ` (${s.exitStatus()})` : ''}`;
    signal(pid, group, 'SIGKILL');
    if (await waitGone(gone, AFTER_KILL_MS, s)) return `killed with SIGKILL after a ${graceMs} ms grace`;
    throw new Error(`${name} (pid ${pid}) is still running ${AFTER_KILL_MS} ms after SIGKILL`);
  } finally {
    forget(pid);
  }
}

async function waitGone(gone: () => boolean, ms: number, s?: Started): Promise<boolean> {
  const until = Date.now() + ms;
  while (!gone()) {
    if (Date.now() >= until) return false;
    // Wake on the child's exit, but a group outliving its leader is polled, not spun on.
    await (s && !s.exited() ? Promise.race([sleep(50), s.done]) : sleep(50));
  }
  return true;
}

/** Stops everything recorded, the last started first. */
export async function stopAll(graceMs = 3000): Promise<void> {
  const pids = recordedPids()
    .map((p) => p.pid)
    .reverse();
  for (const pid of pids) await stopProcess(pid, graceMs).catch(() => {});
}

/** Synchronous last resort (process 'exit' handlers cannot await). */
export function killAllNow(): void {
  for (const s of started) signalProcess(s, 'SIGKILL');
  for (const { pid } of adopted) signal(pid, false, 'SIGKILL');
}

let hooked = false;
/** Stops everything recorded on Ctrl-C / SIGTERM / exit, then runs `cleanup`; `who` prefixes the message. */
export function installExitHooks(who: string, cleanup: () => void): void {
  if (hooked) return;
  hooked = true;
  const bail = (why: string, code: number) => {
    process.stderr.write(`\n${who}: ${why}: stopping ${recordedPids().length} process(es)\n`);
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

export interface WaitOptions {
  /** The child that should answer: its early exit ends the wait at once, its output goes into the error. */
  proc?: Started;
  intervalMs?: number;
}

function exitedError(proc: Started, what: string): Error {
  const who = `${proc.name} (pid ${proc.pid})`;
  return new Error(`${who} exited (${proc.exitStatus()}) before ${what}; its last output:\n${proc.tail()}`);
}

/** Polls `check` until it gives a value; fails at the deadline, or at once when `proc` exits. */
async function pollFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  o: WaitOptions,
): Promise<T> {
  const { proc, intervalMs = 100 } = o;
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc?.exited()) {
      await proc.done;
      throw exitedError(proc, what);
    }
    const got = await check();
    if (got !== undefined) return got;
    if (Date.now() >= until) {
      const who = proc ? `${proc.name} (pid ${proc.pid}): ` : '';
      throw new Error(`${who}no ${what} within ${timeoutMs} ms${proc ? `; its last output:\n${proc.tail()}` : ''}`);
    }
    await (proc ? Promise.race([sleep(intervalMs), proc.done]) : sleep(intervalMs));
  }
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number, o: WaitOptions = {}): Promise<void> {
  await pollFor(
    `listener on 127.0.0.1:${port}`,
    timeoutMs,
    () =>
      new Promise<true | undefined>((resolve) => {
        const sock = connect({ host: '127.0.0.1', port }, () => {
          sock.destroy();
          resolve(true);
        });
        sock.once('error', () => resolve(undefined));
      }),
    o,
  );
}

/** Waits until GET `url` answers 200 (each try bounded to 2 s, so a stuck listener cannot hang it). */
export async function waitForHttp(url: string, timeoutMs: number, o: WaitOptions = {}): Promise<void> {
  await pollFor(
    `HTTP 200 from ${url}`,
    timeoutMs,
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    o,
  );
}

/** Waits for the first later line of `proc`'s output that `match` accepts, and returns what it gives. */
export function waitForLine<T>(
  proc: Started,
  what: string,
  match: (line: string) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (e: Error | null, v?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      off();
      if (e) reject(e);
      else resolve(v as T);
    };
    const timer = setTimeout(() => {
      const who = `${proc.name} (pid ${proc.pid})`;
      finish(new Error(`${who}: no ${what} within ${timeoutMs} ms; its last output:\n${proc.tail()}`));
    }, timeoutMs);
    const off = proc.onLine((line) => {
      const v = match(line);
      if (v !== undefined) finish(null, v);
    });
    void proc.done.then(() => finish(exitedError(proc, what)));
  });
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process in bytes; null once it is gone or a zombie. */
export function rssOf(pid: number): { rss: number; peak: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const bytes = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : null;
  };
  const rss = bytes('VmRSS');
  return rss === null ? null : { rss, peak: bytes('VmHWM') ?? rss };
}
