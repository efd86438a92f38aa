"""In-process OpenSlide patch reads (the baseline of the patch benches): read_region + (resize) + JPEG.

Lines of --coords: `path,x,y,size` (a level-0 square), or `path,x,y,level,read,out` (level-0
top-left; `read` px square read at `level`, resized to `out` px when they differ, LANCZOS, as a
loader asking a micrometre-per-pixel size does). --procs processes each take every procs-th line, for at most --seconds. Prints one JSON
line: patches, seconds, patchesPerSec, p50Ms, p99Ms, bytes (JPEG out), readBytes (what the
processes made the disk read, /proc/self/io), cpuMs (user+sys of the workers).
Run with Debian's interpreter: /usr/bin/python3.
"""
import argparse
import io
import json
import multiprocessing as mp
import os
import time

import openslide
from PIL import Image


def read_bytes():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    return 0


def worker(lines, seconds, quality, start_at, out):
    slides = {}
    lat = []
    nbytes = 0
    rb0 = read_bytes()
    t = os.times()
    cpu0 = t.user + t.system
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    for path, x, y, level, size, outsize in lines:
        if time.time() >= deadline:
            break
        t0 = time.perf_counter()
        s = slides.get(path)
        if s is None:
            s = slides[path] = openslide.OpenSlide(path)
        img = s.read_region((x, y), level, (size, size)).convert("RGB")
        if size != outsize:
            img = img.resize((outsize, outsize), Image.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "jpeg", quality=quality)
        nbytes += buf.tell()
        lat.append(time.perf_counter() - t0)
    t = os.times()
    out.put({"lat": lat, "bytes": nbytes, "end": time.time(), "readBytes": read_bytes() - rb0,
             "cpuMs": (t.user + t.system - cpu0) * 1000})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coords", required=True)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    lines = []
    with open(args.coords) as f:
        for line in f:
            p = line.strip().split(",")
            if len(p) == 4:
                lines.append((p[0], int(p[1]), int(p[2]), 0, int(p[3]), int(p[3])))
            elif len(p) == 6:
                lines.append((p[0], int(p[1]), int(p[2]), int(p[3]), int(p[4]), int(p[5])))
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5
    procs = [ctx.Process(target=worker, args=(lines[i :: args.procs], args.seconds, args.quality, start_at, out))
             for i in range(args.procs)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(v for r in results for v in r["lat"])
    n = len(lat)
    wall = max(r["end"] for r in results) - start_at
    pct = lambda q: (lat[min(n - 1, int(q * n))] * 1000) if n else None
    print(json.dumps({
        "procs": args.procs,
        "patches": n,
        "seconds": wall,
        "patchesPerSec": n / wall if wall > 0 else 0,
        "p50Ms": pct(0.5),
        "p99Ms": pct(0.99),
        "bytes": sum(r["bytes"] for r in results),
        "readBytes": sum(r["readBytes"] for r in results),
        "cpuMs": sum(r["cpuMs"] for r in results),
        "listSize": len(lines),
    }))


if __name__ == "__main__":
    main()
