/**
 * IIPImage (iipsrv) as PEERS.md runs it: two FastCGI processes started by spawn-fcgi behind
 * lighttpd, all on 127.0.0.1. spawn-fcgi forks and exits; the PIDs it prints are adopted so they
 * are stopped by PID with everything else.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adoptPid, freePort, runToEnd, startProcess, stopProcess, waitForPort } from '../dev/procs.js';

export const IIPSRV_FCGI = '/usr/lib/iipimage-server/iipsrv.fcgi';

export interface Iip {
  base: string;
  /** URL path of a DeepZoom tile of `file` (a name inside the served directory). */
  tilePath(file: string, level: number, col: number, row: number): string;
  dziPath(file: string): string;
  /** URL path of a level-0 region of `file` through IIIF: what a 254/1 DeepZoom tile is, served by IIPImage. */
  regionPath(file: string, x: number, y: number, width: number, height: number): string;
  pids: number[];
  stop(): Promise<void>;
}

export function iipAvailable(): boolean {
  return existsSync(IIPSRV_FCGI) && ['/usr/bin/spawn-fcgi', '/usr/sbin/lighttpd'].every((p) => existsSync(p));
}

export interface IipOptions {
  /** Directory holding the TIFF files (FILESYSTEM_PREFIX). */
  dir: string;
  tmpDir: string;
  processes: number;
  jpegQuality: number;
  /** iipsrv's tile cache in MB (0 = off). */
  cacheMb: number;
}

export async function startIip(o: IipOptions): Promise<Iip> {
  const fcgiPort = await freePort();
  const httpPort = await freePort();
  const env = {
    ...process.env,
    FILESYSTEM_PREFIX: o.dir.endsWith('/') ? o.dir : `${o.dir}/`,
    VERBOSITY: '0',
    JPEG_QUALITY: String(o.jpegQuality),
    MAX_IMAGE_CACHE_SIZE: String(o.cacheMb),
  };
  const { stdout, stderr } = await runToEnd(
    'spawn-fcgi',
    'spawn-fcgi',
    ['-a', '127.0.0.1', '-p', String(fcgiPort), '-F', String(o.processes), '--', IIPSRV_FCGI],
    { env },
  );
  const pids = [...(stdout + stderr).matchAll(/PID:\s*(\d+)/g)].map((m) => Number(m[1]));
  pids.forEach((pid) => adoptPid('iipsrv', pid));
  if (pids.length !== o.processes)
    throw new Error(`spawn-fcgi started ${pids.length} of ${o.processes} iipsrv processes:\n${stdout}${stderr}`);
  const docroot = join(o.tmpDir, 'lighttpd-www');
  mkdirSync(docroot, { recursive: true });
  const conf = join(o.tmpDir, 'lighttpd.conf');
  writeFileSync(
    conf,
    [
      'server.bind = "127.0.0.1"',
      `server.port = ${httpPort}`,
      `server.document-root = "${docroot}"`,
      `server.errorlog = "${join(o.tmpDir, 'lighttpd-error.log')}"`,
      'server.max-connections = 1024',
      'server.modules = ("mod_fastcgi")',
      `fastcgi.server = ("/fcgi-bin/iipsrv.fcgi" => (("host" => "127.0.0.1", "port" => ${fcgiPort}, "check-local" => "disable")))`,
      '',
    ].join('\n'),
  );
  const lighttpd = startProcess('lighttpd', 'lighttpd', ['-D', '-f', conf]);
  await waitForPort(httpPort, 10_000, { proc: lighttpd });
  return {
    base: `http://127.0.0.1:${httpPort}`,
    tilePath: (file, level, col, row) => `/fcgi-bin/iipsrv.fcgi?DeepZoom=${file}_files/${level}/${col}_${row}.jpg`,
    dziPath: (file) => `/fcgi-bin/iipsrv.fcgi?DeepZoom=${file}.dzi`,
    regionPath: (file, x, y, w, h) => `/fcgi-bin/iipsrv.fcgi?IIIF=${file}/${x},${y},${w},${h}/full/0/default.jpg`,
    pids: [lighttpd.pid, ...pids],
    async stop() {
      await stopProcess(lighttpd);
      for (const pid of pids) await stopProcess(pid);
    },
  };
}
