{
  "targets": [
    {
      "target_name": "jpeg_region",
      "sources": ["src/jpeg_region.c"],
      "libraries": ["-ljpeg"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
