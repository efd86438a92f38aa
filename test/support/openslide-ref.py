"""Dumps OpenSlide's DeepZoom geometry for a slide as JSON: the reference the service must match.
usage: openslide-ref.py SLIDE TILE_SIZE OVERLAP"""
import json
import sys

import openslide
from openslide.deepzoom import DeepZoomGenerator

slide = openslide.OpenSlide(sys.argv[1])
dz = DeepZoomGenerator(slide, int(sys.argv[2]), int(sys.argv[3]), limit_bounds=False)
tiles = []
for level in range(dz.level_count):
    cols, rows = dz.level_tiles[level]
    for col in range(cols):
        for row in range(rows):
            (l0, slide_level, l_size), z_size = dz._get_tile_info(level, (col, row))
            tiles.append([level, col, row, l0[0], l0[1], slide_level, l_size[0], l_size[1], z_size[0], z_size[1]])
json.dump({
    "levelDimensions": slide.level_dimensions,
    "levelDownsamples": slide.level_downsamples,
    "levelCount": dz.level_count,
    "levelTiles": dz.level_tiles,
    "dzDimensions": dz.level_dimensions,
    "tiles": tiles,
}, sys.stdout)
