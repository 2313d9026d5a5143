# remaster Nuke plugin: the "Remaster" menus (interactive sessions only; UI, no logic here).
import nuke

_NODES = (
    ("Remaster (worker)", "Remaster"),
    ("RemasterInference (Nuke Inference node)", "RemasterInference"),
    ("RemasterAlign", "RemasterAlign"),
    ("RemasterFilmOffset", "RemasterFilmOffset"),
)

_toolbar = nuke.menu("Nodes").addMenu("Remaster")
for _label, _gizmo in _NODES:
    _toolbar.addCommand(_label, f"nuke.createNode({_gizmo!r})")

_main = nuke.menu("Nuke").addMenu("Remaster")
for _label, _gizmo in _NODES:
    _main.addCommand("Create/" + _label, f"nuke.createNode({_gizmo!r})")
_main.addCommand(
    "Stop the worker of this session",
    "import remaster_nuke.client\nremaster_nuke.client.shutdown_all()",
)
