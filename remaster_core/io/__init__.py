"""Media I/O: image sequences (OpenImageIO), video (PyAV), review movies, atomic writes.

- ``sequence``: frame patterns (``plate.####.exr``, ``plate.%06d.exr``) and frame ranges
  (``1001-1100``, ``1001-1100x2``).
- ``images``: read/write EXR, DPX, TIFF, PNG with their metadata.
- ``video``: probe and decode interlaced NTSC (MPEG-2, DV, ProRes) to frames or fields.
- ``movie``: write a review movie (ProRes 422 HQ or H.264) from frames.
- ``atomic``: temp-file-and-rename writes.
"""
