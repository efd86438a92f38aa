"""OpenSlide's DeepZoom behind Flask: the usual way OpenSlide tiles are served (baseline).

Serves the same tile URLs as the service so one URL list drives both:
  /slides/<id>/image.dzi
  /slides/<id>/image_files/<level>/<col>_<row>.jpeg
with DeepZoomGenerator(tile_size=254, overlap=1, limit_bounds=False), saved as JPEG.
Run with Debian's interpreter: /usr/bin/python3 openslide_server.py --port N --slide id=path ...
"""
import argparse
import io
import logging
import sys

import openslide
from flask import Flask, Response, abort
from openslide.deepzoom import DeepZoomGenerator


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--slide", action="append", default=[], help="id=path")
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--tile-size", type=int, default=254)
    ap.add_argument("--overlap", type=int, default=1)
    args = ap.parse_args()

    generators = {}
    for spec in args.slide:
        sid, path = spec.split("=", 1)
        slide = openslide.OpenSlide(path)
        generators[sid] = DeepZoomGenerator(slide, tile_size=args.tile_size, overlap=args.overlap, limit_bounds=False)

    app = Flask(__name__)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    @app.route("/healthz")
    def healthz():
        return "ok"

    @app.route("/slides/<sid>/image.dzi")
    def dzi(sid):
        dz = generators.get(sid) or abort(404)
        return Response(dz.get_dzi("jpeg"), mimetype="application/xml")

    @app.route("/slides/<sid>/image_files/<int:level>/<int:col>_<int:row>.jpeg")
    def tile(sid, level, col, row):
        dz = generators.get(sid) or abort(404)
        try:
            img = dz.get_tile(level, (col, row))
        except ValueError:
            abort(404)
        buf = io.BytesIO()
        img.save(buf, "jpeg", quality=args.quality)
        return Response(buf.getvalue(), mimetype="image/jpeg")

    print(f"openslide {openslide.__library_version__} serving {len(generators)} slide(s) on {args.port}", file=sys.stderr, flush=True)
    app.run(host="127.0.0.1", port=args.port, threaded=True, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
