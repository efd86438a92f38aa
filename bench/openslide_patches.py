"""In-process OpenSlide patch reads (baseline): read_region + JPEG encode (PIL, quality 90).

Reads the coordinates file (lines `path,x,y,size`: level-0 top-left) in order, for at most
--seconds, in --procs processes (each takes every procs-th line), and prints one JSON line:
{"procs", "patches", "seconds", "patchesPerSec", "p50Ms", "p99Ms", "bytes"}.
Run with Debian's interpreter: /usr/bin/python3 openslide_patches.py --coords f --procs 2
"""
import argparse
import io
import json
import multiprocessing as mp
import time

import openslide


def worker(lines, seconds, quality, start_at, out):
    slides = {}
    lat = []
    nbytes = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    for path, x, y, size in lines:
        if time.time() >= deadline:
            break
        t0 = time.perf_counter()
        s = slides.get(path)
        if s is None:
            s = slides[path] = openslide.OpenSlide(path)
        img = s.read_region((x, y), 0, (size, size)).convert("RGB")
        buf = io.BytesIO()
        img.save(buf, "jpeg", quality=quality)
        nbytes += buf.tell()
        lat.append(time.perf_counter() - t0)
    out.put({"patches": len(lat), "lat": lat, "bytes": nbytes, "end": time.time()})


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
                lines.append((p[0], int(p[1]), int(p[2]), int(p[3])))
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5
    procs = [ctx.Process(target=worker, args=(lines[i :: args.procs], args.seconds, args.quality, start_at, out)) for i in range(args.procs)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(l for r in results for l in r["lat"])
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
        "listSize": len(lines),
    }))


if __name__ == "__main__":
    main()
