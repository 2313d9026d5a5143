"""remaster: bring a legacy NTSC broadcast up to the quality of a new film scan.

``remaster_core`` is the runtime: media I/O, colour conversion, conform, alignment, the onnxruntime
engine, batch render and the CLI. It never imports torch, so a render node without torch can run it.
Training lives in ``training/`` and export in ``export/``.
"""

__version__ = "0.1.0"
