# remaster Nuke plugin: plugin paths only (this file also runs on the farm, in `nuke -t` and `nuke -x`).
# Install: put this folder on NUKE_PATH, or add to your own init.py:
#     nuke.pluginAddPath("/path/to/remaster/nuke_plugin")
# See docs/nuke.md.
import nuke

nuke.pluginAddPath("./gizmos")
