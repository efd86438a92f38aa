/**
 * Load runs with wrk: a Lua script walks a URL list file (each thread takes every n-th line, so
 * no URL repeats until the list is used up), `--latency` gives the percentiles, and a `done`
 * hook prints exact counters as one JSON line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from '../dev/procs.js';

export interface WrkOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  base: string;
  /** Paths (with query), one per request, walked in order. */
  paths: readonly string[];
  connections: number;
  seconds: number;
  /** Where the URL list and the script go. */
  tmpDir: string;
  label: string;
}

export interface WrkResult {
  label: string;
  connections: number;
  requests: number;
  seconds: number;
  /** Requests per second (all responses). */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Responses that were not 2xx/3xx. */
  non2xx: number;
  /** connect + read + write + timeout errors. */
  socketErrors: number;
  bytes: number;
  /** The list was used up and walked again (later requests repeat earlier ones). */
  wrapped: boolean;
  listSize: number;
}

const LUA = `
local paths = {}
local counter = 0
local step = 1
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  step = tonumber(args[2])
  counter = tid
end

function request()
  local i = (counter % #paths) + 1
  counter = counter + step
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

let seq = 0;

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  if (o.paths.length === 0) throw new Error(`${o.label}: empty URL list`);
  const n = ++seq;
  const script = join(o.tmpDir, 'walk.lua');
  writeFileSync(script, LUA);
  const list = join(o.tmpDir, `urls-${n}.txt`);
  writeFileSync(list, o.paths.join('\n') + '\n');
  const threads = Math.min(2, o.connections);
  const args = [
    '-t',
    String(threads),
    '-c',
    String(o.connections),
    '-d',
    `${o.seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-s',
    script,
    o.base,
    '--',
    list,
    String(threads),
  ];
  const { stdout } = await runToEnd(`wrk ${o.label}`, 'wrk', args);
  return parseWrk(stdout, o.label, o.connections, o.paths.length);
}

interface DoneJson {
  requests: number;
  duration_us: number;
  bytes: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Reads wrk's text report (Requests/sec, the --latency distribution) and the done() line. */
export function parseWrk(out: string, label: string, connections: number, listSize: number): WrkResult {
  const pct = (p: string): number | null => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(Number(m[1]), m[2]!) : null;
  };
  const rpsText = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const jsonLine = /^WRKJSON (.*)$/m.exec(out);
  if (!rpsText || !jsonLine) throw new Error(`${label}: cannot read wrk's report:\n${out}`);
  const d = JSON.parse(jsonLine[1]!) as DoneJson;
  const seconds = d.duration_us / 1e6;
  return {
    label,
    connections,
    requests: d.requests,
    seconds,
    rps: seconds > 0 ? d.requests / seconds : Number(rpsText[1]),
    p50Ms: pct('50') ?? d.p50 / 1000,
    p90Ms: pct('90') ?? d.p90 / 1000,
    p99Ms: pct('99') ?? d.p99 / 1000,
    maxMs: d.max / 1000,
    non2xx: d.status,
    socketErrors: d.connect + d.read + d.write + d.timeout,
    bytes: d.bytes,
    wrapped: d.requests > listSize,
    listSize,
  };
}

function toMs(v: number, unit: string): number {
  if (unit === 'us') return v / 1000;
  if (unit === 'ms') return v;
  if (unit === 's') return v * 1000;
  return v * 60_000;
}
