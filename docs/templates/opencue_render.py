"""OpenCue job for ``remaster render``: one Shell layer, one command line per chunk (PyOutline).

Run with OpenCue's Python (pyoutline installed and configured for your Cuebot):

    python opencue_render.py

``#FRAMESPEC#`` is replaced by Cuebot with the frames of each task ("0-9", "10-19", ... "2390-2399"),
which ``remaster render --frames`` reads as is. Prefer it to ``#FRAME_START#-#FRAME_END#``: OpenCue has
been seen to give the last chunk of a range that is not a multiple of the chunk size a ``#FRAME_END#``
past the end of the range (OpenCue issue #1129), and frames past the input's end fail (exit code 4).
Edit the paths, show, shot, service tags and memory for your site.
"""

from outline import Outline, cuerun
from outline.modules.shell import Shell

REMASTER = "/opt/remaster/venv/bin/remaster"

job = Outline("ep101_remaster_render", shot="ep101", show="remaster")
job.add_layer(
    Shell(
        "render",
        command=[
            REMASTER,
            "render",
            "/show/ep101/conform",
            "--model",
            "/show/models/G-v3.onnx",
            "--out",
            "/show/ep101/render/frame.####.exr",
            "--transform",
            "/show/ep101/pairs/align.json",
            "--provider",
            "cuda",
            "--frames",
            "#FRAMESPEC#",
        ],
        range="0-2399",
        chunk=10,
        tags=["gpu"],
        memory="8G",
    )
)
cuerun.launch(job, use_pycuerun=False)
