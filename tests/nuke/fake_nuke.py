"""A STAND-IN for the few ``nuke`` calls the remaster plugin makes. It is not Nuke.

Nuke is proprietary and cannot run here (docs/architecture.md, section 7). This module imitates, in plain Python,
only what the plugin uses, so the tests can exercise the plugin's wiring: its gizmo files are parsed
(knob definitions, internal nodes, their connections from the ``.nk`` stack), its callbacks run
against those nodes, ``execute`` of a Write renders the pixels of a small upstream graph into a real
EXR with OpenImageIO, and a gizmo's output can be "rendered" at a frame by following its Output back
to its Read. What it shows: the adapter calls the worker correctly and wires its knobs and internal
nodes consistently. What it cannot show: that real Nuke accepts the gizmo files, the knob names of
Nuke's own nodes (Write, Read, Reformat, Assert, ...), or Nuke's evaluation of TCL and expressions;
the stand-in implements the subset the plugin relies on (``[value parent.KNOB]`` in file knobs,
arithmetic / comparison / ``?:`` expressions) and raises ``StandInLimit`` for anything else.

Install with ``install()`` (puts it in ``sys.modules["nuke"]``), only inside tests.
"""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

PLUGIN = Path(__file__).resolve().parents[2] / "nuke_plugin"


class StandInLimit(NotImplementedError):
    """The plugin used something this stand-in does not imitate."""


class NukeError(RuntimeError):
    """What real Nuke would report as a node error (a missing file, a disabled Write, an Assert)."""


# ------------------------------------------------------------------------------------------ state

GUI = False
INTERACTIVE = False
messages: list[str] = []
executed: list[tuple[str, int, int]] = []
plugin_paths: list[str] = []
_frame = [1]
_this: list[tuple[Any, Any]] = []


def reset() -> None:
    """Forget every node, message and record (a new Nuke session)."""
    global _root, _current, GUI
    GUI = False
    messages.clear()
    executed.clear()
    plugin_paths.clear()
    _frame[0] = 1
    _this.clear()
    _root = Root()
    _current = _root
    _menus.clear()


# ------------------------------------------------------------------------------------------ knobs


class Format:
    def __init__(self, width: int, height: int, pixel_aspect: float = 1.0, name: str = "") -> None:
        self._w, self._h, self._par, self._name = int(width), int(height), float(pixel_aspect), name

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def pixelAspect(self) -> float:
        return self._par

    def name(self) -> str:
        return self._name


class Knob:
    """A knob: a value (or one per channel) or an expression evaluated in its node's context."""

    type_id = 0

    def __init__(self, name: str, value: Any = None, label: str = "", flags: tuple[str, ...] = ()) -> None:
        self._name = name
        self._value = value
        self._expr: dict[int, str] = {}
        self._label = label
        self._visible = "+INVISIBLE" not in flags
        self.flags = flags
        self.node: Node | None = None

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def Class(self) -> str:
        return type(self).__name__

    def setVisible(self, visible: bool) -> None:
        self._visible = bool(visible)

    def visible(self) -> bool:
        return self._visible

    def setExpression(self, expression: str, index: int = 0, view: str | None = None) -> bool:
        self._expr[index] = expression
        return True

    def hasExpression(self, index: int = 0) -> bool:
        return index in self._expr

    def expression(self, index: int = 0) -> str:
        return self._expr[index]

    def value(self, index: int = 0) -> Any:
        if index in self._expr:
            assert self.node is not None
            return evaluate(self._expr[index], self.node)
        if isinstance(self._value, list):
            return self._value[index]
        return self._value

    def getValue(self, index: int = 0) -> Any:
        return self.value(index)

    def setValue(self, value: Any, chan: int | None = None) -> bool:
        if chan is None:
            self._expr.pop(0, None)
            self._value = self.coerce(value)
        else:
            self._expr.pop(chan, None)
            if not isinstance(self._value, list):
                self._value = [self._value, self._value]
            self._value[chan] = float(value)
        return True

    def coerce(self, value: Any) -> Any:
        return value


class String_Knob(Knob):
    type_id = 1

    def coerce(self, value: Any) -> Any:
        return "" if value is None else str(value)

    def evaluate(self, frame: int | None = None) -> str:
        """The value with ``[value parent.KNOB]`` substituted (the TCL the plugin's gizmos use)."""
        assert self.node is not None
        return substitute_tcl(str(self.value()), self.node)


class File_Knob(String_Knob):
    type_id = 2


class Int_Knob(Knob):
    type_id = 3

    def coerce(self, value: Any) -> Any:
        return int(value)


class Enumeration_Knob(Knob):
    type_id = 4

    def __init__(self, name: str, items: list[str], **kw: Any) -> None:
        super().__init__(name, items[0] if items else "", **kw)
        self.items = items

    def coerce(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.items[int(value)]
        if value not in self.items:
            raise ValueError(f"{self._name}: {value!r} is not one of {self.items}")
        return value

    def values(self) -> list[str]:
        return list(self.items)

    def index(self) -> int:
        return self.items.index(self.value())


class Boolean_Knob(Knob):
    type_id = 6

    def coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            return value == "true"
        return bool(value)


class Double_Knob(Knob):
    type_id = 7

    def coerce(self, value: Any) -> Any:
        return float(value)


class Format_Knob(Knob):
    type_id = 17


class Tab_Knob(Knob):
    type_id = 20


class Script_Knob(String_Knob):
    def execute(self) -> None:
        assert self.node is not None
        run_script(str(self.value()), self.node, self)


class PyScript_Knob(Script_Knob):
    type_id = 22


class Text_Knob(Knob):
    type_id = 26

    def coerce(self, value: Any) -> Any:
        return str(value)


class Link_Knob(Knob):
    type_id = 41

    def __init__(self, name: str, target: str, **kw: Any) -> None:
        super().__init__(name, None, **kw)
        self.target = target

    def _target(self) -> Knob:
        assert isinstance(self.node, Group)
        node_name, knob_name = self.target.split(".", 1)
        inner = self.node.node(node_name)
        if inner is None or inner.knob(knob_name) is None:
            raise NukeError(f"link knob {self._name} -> {self.target}: no such node/knob")
        k = inner.knob(knob_name)
        assert k is not None
        return k

    def value(self, index: int = 0) -> Any:
        return self._target().value(index)

    def setValue(self, value: Any, chan: int | None = None) -> bool:
        return self._target().setValue(value, chan)


KNOB_TYPES: dict[int, type[Knob]] = {
    k.type_id: k
    for k in (
        String_Knob, File_Knob, Int_Knob, Enumeration_Knob, Boolean_Knob, Double_Knob, Format_Knob,
        Tab_Knob, PyScript_Knob, Text_Knob, Link_Knob,
    )
}  # fmt: skip


# ------------------------------------------------------------------------------------------ nodes

# The knobs of Nuke's own node classes that the gizmos and the plugin use, with defaults. This table
# is the stand-in's assumption about Nuke, not knowledge of it.
_CLASS_KNOBS: dict[str, dict[str, Callable[[], Knob]]] = {
    "Input": {"number": lambda: Int_Knob("number", 0)},
    "Output": {},
    "Remove": {
        "operation": lambda: String_Knob("operation", "remove"),
        "channels": lambda: String_Knob("channels", "none"),
    },
    "Write": {
        "file": lambda: File_Knob("file", ""),
        "channels": lambda: String_Knob("channels", "rgb"),
        "raw": lambda: Boolean_Knob("raw", False),
        "file_type": lambda: String_Knob("file_type", ""),
        "datatype": lambda: String_Knob("datatype", "16 bit half"),
        "metadata": lambda: String_Knob("metadata", "default metadata"),
        "disable": lambda: Boolean_Knob("disable", False),
    },
    "Read": {
        "file": lambda: File_Knob("file", ""),
        "raw": lambda: Boolean_Knob("raw", False),
        "first": lambda: Int_Knob("first", 1),
        "last": lambda: Int_Knob("last", 1),
        "origfirst": lambda: Int_Knob("origfirst", 1),
        "origlast": lambda: Int_Knob("origlast", 1),
        "before": lambda: String_Knob("before", "hold"),
        "after": lambda: String_Knob("after", "hold"),
        "on_error": lambda: String_Knob("on_error", "error"),
        "reload": lambda: Script_Knob("reload", ""),
    },
    "Assert": {
        "expression": lambda: Knob("expression", 1),
        "message": lambda: String_Knob("message", ""),
    },
    "TimeOffset": {
        "time_offset": lambda: Double_Knob("time_offset", 0.0),
        "time": lambda: String_Knob("time", ""),
    },
    "Reformat": {
        "type": lambda: String_Knob("type", "to format"),
        "format": lambda: Format_Knob("format", None),
        "box_width": lambda: Int_Knob("box_width", 200),
        "box_height": lambda: Int_Knob("box_height", 200),
        "box_fixed": lambda: Boolean_Knob("box_fixed", False),
        "resize": lambda: String_Knob("resize", "width"),
        "center": lambda: Boolean_Knob("center", True),
        "black_outside": lambda: Boolean_Knob("black_outside", False),
        "filter": lambda: String_Knob("filter", "Cubic"),
    },
    "Transform": {
        "translate": lambda: Knob("translate", [0.0, 0.0]),
        "scale": lambda: Knob("scale", [1.0, 1.0]),
        "center": lambda: Knob("center", [0.0, 0.0]),
        "black_outside": lambda: Boolean_Knob("black_outside", True),
        "filter": lambda: String_Knob("filter", "Cubic"),
    },
    "Switch": {"which": lambda: Double_Knob("which", 0.0)},
    "Dissolve": {"which": lambda: Double_Knob("which", 0.0)},
    "Merge2": {"operation": lambda: String_Knob("operation", "over")},
    "Keymix": {},
    "Expression": {f"expr{i}": (lambda i=i: String_Knob(f"expr{i}", "")) for i in range(4)},
    "Multiply": {
        "channels": lambda: String_Knob("channels", "all"),
        "value": lambda: Double_Knob("value", 1.0),
    },
    "Inference": {
        "modelFile": lambda: File_Knob("modelFile", ""),
        "useGPUIfAvailable": lambda: Boolean_Knob("useGPUIfAvailable", True),
    },
}
_COMMON = ("name", "xpos", "ypos", "inputs", "selected", "help", "tile_color", "label")


class Node:
    def __init__(self, cls: str, name: str = "") -> None:
        self._class = cls
        self._name = name or cls
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        self._parent: Group | None = None
        self.xy = (0, 0)
        for factory in _CLASS_KNOBS.get(cls, {}).values():
            self.addKnob(factory())

    # identity
    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        return self._name

    def setName(self, name: str, uncollide: bool = True, updateExpressions: bool = False) -> None:
        self._name = name

    def fullName(self) -> str:
        if self._parent is None or isinstance(self._parent, Root):
            return self._name
        return f"{self._parent.fullName()}.{self._name}"

    def parent(self) -> Group:
        assert self._parent is not None
        return self._parent

    # knobs
    def addKnob(self, knob: Knob) -> None:
        knob.node = self
        self._knobs[knob.name()] = knob

    def knob(self, name: str) -> Knob | None:
        return self._knobs.get(name)

    def knobs(self) -> dict[str, Knob]:
        return dict(self._knobs)

    def __getitem__(self, name: str) -> Knob:
        k = self.knob(name)
        if k is None:
            raise NameError(f"{self.fullName()} has no knob {name!r}")
        return k

    # graph
    def input(self, index: int) -> Node | None:
        return self._inputs[index] if index < len(self._inputs) else None

    def inputs(self) -> int:
        return len(self._inputs)

    def setInput(self, index: int, node: Node | None) -> bool:
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = node
        return True

    def xpos(self) -> int:
        return self.xy[0]

    def ypos(self) -> int:
        return self.xy[1]

    def setXYpos(self, x: int, y: int) -> None:
        self.xy = (x, y)

    # image info (from the upstream graph, by pulling a frame)
    def firstFrame(self) -> int:
        return frame_range(self)[0]

    def lastFrame(self) -> int:
        return frame_range(self)[1]

    def channels(self) -> list[str]:
        return list(pull(self, self.firstFrame()).channels)

    def width(self) -> int:
        return int(pull(self, self.firstFrame()).pixels.shape[1])

    def height(self) -> int:
        return int(pull(self, self.firstFrame()).pixels.shape[0])

    def format(self) -> Format:
        img = pull(self, self.firstFrame())
        return Format(img.pixels.shape[1], img.pixels.shape[0], img.pixel_aspect)

    def __repr__(self) -> str:
        return f"<stand-in {self._class} {self.fullName()}>"


class Group(Node):
    def __init__(self, cls: str = "Group", name: str = "") -> None:
        super().__init__(cls, name)
        self._nodes: list[Node] = []

    def node(self, name: str) -> Node | None:
        return next((n for n in self._nodes if n.name() == name), None)

    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def add(self, node: Node) -> Node:
        names = {n.name() for n in self._nodes}
        if node.name() in names:
            base = re.sub(r"\d+$", "", node.name())
            k = 1
            while f"{base}{k}" in names:
                k += 1
            node.setName(f"{base}{k}")
        node._parent = self
        self._nodes.append(node)
        return node

    def __enter__(self) -> Group:  # noqa: PYI034 (typed as types-nuke types it)
        global _current
        self._previous = _current
        _current = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _current
        _current = self._previous

    def begin(self) -> Group:
        return self.__enter__()

    def end(self) -> None:
        self.__exit__()

    def output_node(self) -> Node:
        out = next((n for n in self._nodes if n.Class() == "Output"), None)
        if out is None:
            raise NukeError(f"{self.fullName()} has no Output node")
        return out


class Gizmo(Group):
    def __init__(self, cls: str, path: Path) -> None:
        super().__init__(cls)
        self.path = path

    def filename(self) -> str:
        return str(self.path)


class Root(Group):
    def __init__(self) -> None:
        super().__init__("Root", "root")
        self.script_name = "untitled.nk"

    def name(self) -> str:  # real Nuke: the script's file name
        return self.script_name

    def fullName(self) -> str:
        return "root"


_root = Root()
_current: Group = _root


def root() -> Root:
    return _root


def thisNode() -> Node:
    if not _this:
        raise StandInLimit("thisNode() outside a callback")
    return _this[-1][0]


def thisKnob() -> Knob:
    if not _this or _this[-1][1] is None:
        raise StandInLimit("thisKnob() outside a knob callback")
    return _this[-1][1]


def toNode(name: str) -> Node | None:
    group: Group = _root
    parts = name.split(".")
    for part in parts[:-1]:
        inner = group.node(part)
        if not isinstance(inner, Group):
            return None
        group = inner
    return group.node(parts[-1])


def allNodes(
    filter: str | None = None, group: Group | None = None, recurseGroups: bool = False
) -> list[Node]:
    out: list[Node] = []
    for node in (group or _current).nodes():
        if filter is None or node.Class() == filter:
            out.append(node)
        if recurseGroups and isinstance(node, Group):
            out += allNodes(filter, node, True)
    return out


def frame(f: int | None = None) -> int:
    if f is not None:
        _frame[0] = int(f)
    return _frame[0]


def message(text: str) -> None:
    messages.append(text)


def tprint(*args: Any, **kw: Any) -> None:
    print(*args, **kw)


def addFormat(text: str) -> Format:
    w, h, par, name = text.split()
    return Format(int(w), int(h), float(par), name)


def pluginAddPath(path: str, addToSysPath: bool = True) -> None:
    plugin_paths.append(path)


class ProgressTask:
    def __init__(self, title: str) -> None:
        self.title = title
        self.progress = 0
        self.cancel_after: int | None = None
        self._calls = 0

    def isCancelled(self) -> bool:
        self._calls += 1
        return self.cancel_after is not None and self._calls > self.cancel_after

    def setMessage(self, text: str) -> None:
        self.message = text

    def setProgress(self, value: int) -> None:
        self.progress = value


class _Menu:
    def __init__(self, name: str) -> None:
        self._name = name
        self.items: dict[str, Any] = {}

    def name(self) -> str:
        return self._name

    def addMenu(self, name: str, **kw: Any) -> _Menu:
        sub = self.items.get(name)
        if not isinstance(sub, _Menu):
            sub = _Menu(name)
            self.items[name] = sub
        return sub

    def addCommand(self, name: str, command: Any = None, *args: Any, **kw: Any) -> None:
        self.items[name] = command


_menus: dict[str, _Menu] = {}


def menu(name: str) -> _Menu:
    return _menus.setdefault(name, _Menu(name))


class _Nodes:
    def __getattr__(self, cls: str) -> Callable[..., Node]:
        def make(**knobs: Any) -> Node:
            node = _current.add(Node(cls, f"{cls}1"))
            for key, value in knobs.items():
                node[key].setValue(value)
            return node

        return make


nodes = _Nodes()


def createNode(cls: str, knobs: str = "", inpanel: bool = True) -> Node:
    """A gizmo found on the plugin paths (``<cls>.gizmo``), created as a user would: onCreate runs."""
    for folder in [*plugin_paths, str(PLUGIN / "gizmos")]:
        path = Path(folder) / f"{cls}.gizmo"
        if path.is_file():
            node = load_gizmo(path)
            _current.add(node)
            script = node.knob("onCreate")
            if script is not None and str(script.value()).strip():
                run_script(str(script.value()), node, None)
            return node
    raise StandInLimit(f"createNode({cls!r}): the stand-in only creates gizmos from the plugin's folder")


def run_script(source: str, node: Node, knob: Knob | None) -> None:
    """Run a knob's Python (a button, onCreate, knobChanged) with ``thisNode`` / ``thisKnob`` set."""
    _this.append((node, knob))
    try:
        code = compile(source, f"<{node.fullName()} script>", "exec")
        exec(code, {"nuke": sys.modules["nuke"]})  # noqa: S102 (a knob's Python, as Nuke runs it)
    finally:
        _this.pop()


def press(node: Node, name: str) -> None:
    """The user presses the button ``name`` of ``node``."""
    k = node.knob(name)
    if not isinstance(k, Script_Knob):
        raise NameError(f"{node.fullName()} has no button {name!r}")  # noqa: TRY004 (as Nuke's NameError)
    k.execute()


def change(node: Node, name: str, value: Any = None) -> None:
    """The user sets knob ``name`` (or connects an input: ``name="inputChange"``); knobChanged runs."""
    k = node.knob(name)
    if name != "inputChange":
        assert k is not None, f"{node.fullName()} has no knob {name!r}"
        k.setValue(value)
    else:
        k = Knob("inputChange")
        k.node = node
    script = node.knob("knobChanged")
    if script is not None and str(script.value()).strip():
        run_script(str(script.value()), node, k)


# ------------------------------------------------------------------------------------- gizmo files


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    """(kind, text) tokens of .nk text: "word", "brace" (content), "quoted" (unescaped), "newline"."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            yield "newline", ""
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "{":
            depth, j = 1, i + 1
            while depth:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            yield "brace", text[i + 1 : j - 1]
            i = j
        elif c == '"':
            j, out = i + 1, []
            while text[j] != '"':
                if text[j] == "\\":
                    nxt = text[j + 1]
                    out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                    j += 2
                else:
                    out.append(text[j])
                    j += 1
            yield "quoted", "".join(out)
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n{}"':
                j += 1
            yield "word", text[i:j].replace("\\[", "[")
            i = j


def _lines(text: str) -> list[list[tuple[str, str]]]:
    lines, line = [], []
    for tok in _tokens(text):
        if tok[0] == "newline":
            if line:
                lines.append(line)
            line = []
        else:
            line.append(tok)
    if line:
        lines.append(line)
    return lines


def _user_knob(spec: str) -> Knob:
    """A knob from the content of ``addUserKnob {ID NAME options}``."""
    toks = [t for t in _tokens(spec) if t[0] != "newline"]
    type_id, name = int(toks[0][1]), toks[1][1]
    opts: dict[str, Any] = {}
    flags: list[str] = []
    i = 2
    while i < len(toks):
        word = toks[i][1]
        if toks[i][0] == "word" and word[:1] in "+-" and word[1:].isupper():
            flags.append(word)
            i += 1
        elif word in ("l", "t", "T", "M", "n"):
            opts[word] = toks[i + 1]
            i += 2
        elif word == "R":
            opts["R"] = (toks[i + 1][1], toks[i + 2][1])
            i += 3
        else:
            raise StandInLimit(f"addUserKnob option {word!r} in {spec!r}")
    label = opts["l"][1] if "l" in opts else name
    if type_id not in KNOB_TYPES:
        raise StandInLimit(f"knob type {type_id} ({name})")
    cls = KNOB_TYPES[type_id]
    kw = {"label": label, "flags": tuple(flags)}
    if cls is Enumeration_Knob:
        items = [t[1] for t in _tokens(opts["M"][1]) if t[0] != "newline"]
        return Enumeration_Knob(name, items, **kw)
    if cls is Link_Knob:
        return Link_Knob(name, opts["T"][1], **kw)
    default: Any = {
        Int_Knob: 0,
        Double_Knob: 0.0,
        Boolean_Knob: False,
        Format_Knob: Format(1920, 1080, 1.0, "HD_1080"),
    }.get(cls, "")
    knob = cls(name, default, **kw)
    if "T" in opts:
        knob._value = opts["T"][1]
    knob.spec = opts  # type: ignore[attr-defined]
    return knob


def _set_from_script(node: Node, name: str, tok: tuple[str, str]) -> None:
    """Set knob ``name`` of ``node`` from its .nk value token."""
    kind, text = tok
    k = node.knob(name)
    if k is None:
        if name in _COMMON or name in ("onCreate", "knobChanged"):
            k = String_Knob(name, "")
            node.addKnob(k)
        else:
            raise NukeError(f"{node.Class()}.{name}: no such knob (stand-in table)")
    if kind == "brace" and text.startswith("{") and text.endswith("}"):
        k.setExpression(text[1:-1].strip().strip('"'))
    elif kind == "brace":
        k._value = [float(v) for v in text.split()]
    elif isinstance(k, Enumeration_Knob | Boolean_Knob | Int_Knob | Double_Knob):
        k.setValue(text)
    else:
        k._value = text


def load_gizmo(path: Path) -> Gizmo:
    """Parse a .gizmo file: the group's knobs, its nodes, their inputs (from the .nk stack)."""
    lines = _lines(path.read_text(encoding="utf-8"))
    cls = path.stem
    gizmo: Gizmo | None = None
    stack: list[Node] = []
    variables: dict[str, Node] = {}
    for line in lines:
        head = line[0][1]
        if head == "version" or head == "end_group":
            continue
        if head == "set":
            variables[line[1][1]] = stack[-1]
            continue
        if head == "push":
            stack.append(variables[line[1][1].lstrip("$")])
            continue
        if len(line) != 2 or line[1][0] != "brace":
            raise StandInLimit(f"{path.name}: cannot read the line {line!r}")
        body = _lines(line[1][1])
        if gizmo is None:
            if head != "Gizmo":
                raise NukeError(f"{path.name}: does not start with a Gizmo block")
            gizmo = Gizmo(cls, path)
            target: Node = gizmo
        else:
            target = Node(head)
        inputs = 1 if target is not gizmo else 0
        for entry in body:
            name = entry[0][1]
            if name == "addUserKnob":
                target.addKnob(_user_knob(entry[1][1]))
            elif name == "inputs":
                inputs = int(entry[1][1])
            elif name == "name":
                target.setName(entry[1][1])
            else:
                _set_from_script(target, name, entry[1])
        if target is gizmo:
            continue
        gizmo.add(target)
        if inputs:
            popped = [stack.pop() for _ in range(inputs)]
            for i, upstream in enumerate(popped):  # the top of the stack is input 0
                target.setInput(i, upstream)
        stack.append(target)
    assert gizmo is not None
    return gizmo


# ------------------------------------------------------------------------------ TCL and expressions

_TCL = re.compile(r"\[value\s+([A-Za-z_][\w.]*)\]")


def _lookup(path: str, node: Node) -> Knob:
    parts = path.split(".")
    target: Node = node
    if parts[0] == "parent":
        target = node.parent()
        parts = parts[1:]
    elif len(parts) > 1:
        found = node.parent().node(parts[0]) if node._parent is not None else None
        if found is None:
            raise StandInLimit(f"reference {path!r} from {node.fullName()}")
        target, parts = found, parts[1:]
    k = target.knob(parts[0])
    if k is None:
        raise NukeError(f"{node.fullName()}: {path}: no such knob")
    return k


def substitute_tcl(text: str, node: Node) -> str:
    """``[value parent.KNOB]`` / ``[value NODE.KNOB]`` replaced by the knob's value (else StandInLimit)."""
    out = _TCL.sub(lambda m: str(_lookup(m.group(1), node).value()), text)
    if "[" in out:
        raise StandInLimit(f"TCL in {text!r}")
    return out


_EXPR_TOKEN = re.compile(r"\s*(\d+\.?\d*|\.\d+|[A-Za-z_][\w.]*|&&|\|\||[<>=!]=|[-+*/%()?:<>!])")


def evaluate(expr: str, node: Node, t: float | None = None, **names: Any) -> Any:
    """A Nuke expression of the kinds the plugin writes: numbers, ``t``/``frame``, ``parent.KNOB``,
    ``NODE.KNOB``, + - * / %, comparisons, && ||, ?:, parentheses, floor()."""
    toks = [m for m in _EXPR_TOKEN.findall(expr)]
    if "".join(toks) != re.sub(r"\s+", "", expr):
        raise StandInLimit(f"expression {expr!r}")
    pos = [0]
    env = {"t": frame() if t is None else t, "frame": frame() if t is None else t, **names}

    def peek() -> str:
        return toks[pos[0]] if pos[0] < len(toks) else ""

    def take(expected: str | None = None) -> str:
        tok = peek()
        if expected is not None and tok != expected:
            raise StandInLimit(f"expression {expr!r}: expected {expected!r} at {tok!r}")
        pos[0] += 1
        return tok

    def atom() -> Any:
        tok = take()
        if tok == "(":
            value = ternary()
            take(")")
            return value
        if tok == "-":
            return -atom()
        if tok == "!":
            return not atom()
        if re.fullmatch(r"\d+\.?\d*|\.\d+", tok):
            return float(tok)
        if tok == "floor":
            take("(")
            value = ternary()
            take(")")
            return np.floor(value)
        if tok in env:
            return env[tok]
        knob = _lookup(tok, node)
        value = knob.index() if isinstance(knob, Enumeration_Knob) else knob.value()
        return float(value)

    levels = [("*", "/", "%"), ("+", "-"), ("<", ">", "<=", ">=", "==", "!="), ("&&",), ("||",)]

    def binary(level: int) -> Any:
        if level < 0:
            return atom()
        left = binary(level - 1)
        while peek() in levels[level]:
            op = take()
            right = binary(level - 1)
            left = {
                "*": lambda a, b: a * b, "/": lambda a, b: a / b, "%": lambda a, b: a % b,
                "+": lambda a, b: a + b, "-": lambda a, b: a - b, "<": lambda a, b: a < b,
                ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
                "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
                "&&": lambda a, b: bool(a) and bool(b), "||": lambda a, b: bool(a) or bool(b),
            }[op](left, right)  # fmt: skip
        return left

    def ternary() -> Any:
        cond = binary(len(levels) - 1)
        if peek() == "?":
            take("?")
            a = ternary()
            take(":")
            b = ternary()
            return a if cond else b
        return cond

    value = ternary()
    if pos[0] != len(toks):
        raise StandInLimit(f"expression {expr!r}: trailing {toks[pos[0] :]}")
    return float(value) if isinstance(value, bool) else value


# ---------------------------------------------------------------------------------------- pixels


class Image:
    """Pixels the stand-in pulls through a graph: float32 (H, W, C), channel names, pixel aspect."""

    def __init__(self, pixels: np.ndarray, channels: list[str], pixel_aspect: float) -> None:
        self.pixels, self.channels, self.pixel_aspect = pixels, channels, pixel_aspect


_NAMES = {"R": "rgba.red", "G": "rgba.green", "B": "rgba.blue", "A": "rgba.alpha"}


def make_read(pattern: str, first: int, last: int, name: str = "Read1") -> Node:
    """An external Read node (a source plate) in the current group, reading ``pattern`` (####)."""
    node = _current.add(Node("Read", name))
    node["file"].setValue(pattern)
    for k, v in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        node[k].setValue(v)
    return node


def _read_file(path: str) -> Image:
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise NukeError(f"Read: cannot open {path} ({oiio.geterror()})")
    try:
        spec = inp.spec()
        data = np.asarray(inp.read_image("float"), dtype=np.float32).reshape(
            spec.height, spec.width, spec.nchannels
        )
        names = [_NAMES.get(c, c if "." in c else f"other.{c}") for c in spec.channelnames]
        par = float(spec.get_float_attribute("PixelAspectRatio", 1.0))
    finally:
        inp.close()
    return Image(data, names, par)


def frame_range(node: Node) -> tuple[int, int]:
    """The frame range of ``node``'s output (a Read's first..last, else its input's)."""
    if node.Class() == "Read":
        return int(node["first"].value()), int(node["last"].value())
    if isinstance(node, Group):
        return frame_range(node.output_node())
    if node.Class() == "Input":
        group = node.parent()
        upstream = group.input(int(node["number"].value()))
        if upstream is None:
            raise NukeError(f"{group.fullName()}: input {node.name()} is not connected")
        return frame_range(upstream)
    upstream = node.input(0)
    if upstream is None:
        raise NukeError(f"{node.fullName()} has no input")
    return frame_range(upstream)


def pull(node: Node, at: int) -> Image:
    """The image ``node`` outputs at frame ``at`` (only the classes the plugin's graphs need)."""
    cls = node.Class()
    if isinstance(node, Group):
        return pull(node.output_node(), at)
    if cls == "Read":
        first, last = frame_range(node)
        if not first <= at <= last:
            if node["before"].value() == "black" or node["after"].value() == "black":
                raise StandInLimit("black frames outside a Read's range")
            at = min(max(at, first), last)
        path = node["file"].evaluate()
        width = path.count("#")
        path = path.replace("#" * width, f"{at:0{width}d}")
        if not os.path.isfile(path):
            raise NukeError(f"{node.fullName()}: Read error: {path}: no such file")
        return _read_file(path)
    if cls == "Input":
        group = node.parent()
        upstream = group.input(int(node["number"].value()))
        if upstream is None:
            raise NukeError(f"{group.fullName()}: input {node.name()} is not connected")
        return pull(upstream, at)
    upstream = node.input(0)
    if upstream is None:
        raise NukeError(f"{node.fullName()} has no input")
    if cls in ("Output", "Write"):
        return pull(upstream, at)
    if cls == "Remove":
        img = pull(upstream, at)
        if node["operation"].value() != "keep" or node["channels"].value() != "rgb":
            raise StandInLimit("Remove other than 'keep rgb'")
        keep = [i for i, c in enumerate(img.channels) if c in ("rgba.red", "rgba.green", "rgba.blue")]
        return Image(img.pixels[..., keep], [img.channels[i] for i in keep], img.pixel_aspect)
    if cls == "TimeOffset":
        return pull(upstream, at - round(float(node["time_offset"].value())))
    if cls == "Assert":
        if not float(node["expression"].value()):
            raise NukeError(f"{node.fullName()}: {node['message'].evaluate()}")
        return pull(upstream, at)
    raise StandInLimit(f"rendering a {cls} node")


def execute(
    write: Node | str, start: int, end: int, incr: int = 1, views: Any = None, continueOnError: bool = False
) -> None:
    """Render a Write node's input into its file for frames start..end (32-bit float EXR only)."""
    node = toNode(write) if isinstance(write, str) else write
    if node is None or node.Class() != "Write":
        raise NukeError(f"execute: {write!r} is not a Write node")
    if node["disable"].value():
        raise NukeError(f"{node.fullName()} is disabled")
    if node["file_type"].value() != "exr" or node["datatype"].value() != "32 bit float":
        raise StandInLimit("the stand-in writes 32-bit float EXR only")
    for at in range(start, end + 1, incr):
        executed.append((node.fullName(), at, at))
        img = pull(node, at)
        if node["channels"].value() == "rgb":
            keep = [i for i, c in enumerate(img.channels) if c in ("rgba.red", "rgba.green", "rgba.blue")]
            img = Image(img.pixels[..., keep], [img.channels[i] for i in keep], img.pixel_aspect)
        path = node["file"].evaluate()
        width = path.count("#")
        path = path.replace("#" * width, f"{at:0{width}d}")
        if not os.path.isdir(os.path.dirname(path)):
            raise NukeError(f"{node.fullName()}: cannot write {path}: no such folder")
        spec = oiio.ImageSpec(img.pixels.shape[1], img.pixels.shape[0], img.pixels.shape[2], "float")
        spec.channelnames = tuple({v: k for k, v in _NAMES.items()}.get(c, c) for c in img.channels)
        spec.attribute("PixelAspectRatio", float(img.pixel_aspect))
        out = oiio.ImageOutput.create(path)
        assert out is not None and out.open(path, spec), oiio.geterror()
        assert out.write_image(np.ascontiguousarray(img.pixels))
        out.close()


# ----------------------------------------------------------------------------------------- install


def install() -> types.ModuleType:
    """Put this stand-in in ``sys.modules["nuke"]`` (and the plugin folder on sys.path); a fresh session."""
    module = sys.modules[__name__]
    sys.modules["nuke"] = module
    if str(PLUGIN) not in sys.path:
        sys.path.insert(0, str(PLUGIN))
    reset()
    return module


def uninstall() -> None:
    """Remove the stand-in and the plugin's modules from ``sys.modules``."""
    sys.modules.pop("nuke", None)
    for name in [n for n in sys.modules if n == "remaster_nuke" or n.startswith("remaster_nuke.")]:
        sys.modules.pop(name, None)


@contextmanager
def session() -> Iterator[types.ModuleType]:
    """The stand-in installed for the duration of a ``with`` block."""
    module = install()
    try:
        yield module
    finally:
        uninstall()
