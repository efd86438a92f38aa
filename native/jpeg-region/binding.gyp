{
  "targets": [
    {
      "target_name": "jpeg_region",
      "sources": ["src/jpeg_region.c", "src/resample.c"],
      "libraries": ["-ljpeg", "-lm"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
