"""The RemasterAlign and RemasterFilmOffset gizmos in the ``nuke`` stand-in, with the real worker:
a synthetic cut with known framing is aligned from Nuke's frames; cuts from conform.json; bad input."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from remaster_core.align.evaluate import corner_error
from remaster_core.align.transform import Transform4
from remaster_core.io.images import ImageMeta, write_image
from tests.align import SyntheticShot, synthetic_shot
from tests.nuke import fake_nuke

FILM_SIZE = (480, 360)


Cut = tuple[Path, SyntheticShot]


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> Cut:
    """Broadcast frames 1-3 (720x480, pixel aspect 8/9) and film frames 101-103 of one synthetic shot."""
    shot = synthetic_shot(seed=5, n_frames=3, film_size=FILM_SIZE)
    folder = tmp_path_factory.mktemp("align-cut")
    for k in range(3):
        write_image(
            folder / "bc" / f"b.{k + 1:04d}.exr", shot.broadcast[k], meta=ImageMeta(pixel_aspect=8 / 9)
        )
        write_image(folder / "film" / f"f.{k + 101:04d}.exr", shot.film[k], meta=ImageMeta())
    return folder, shot


def _align_node(nuke: ModuleType, folder: Path, worker: str) -> fake_nuke.Node:
    bc = fake_nuke.make_read(str(folder / "bc" / "b.####.exr"), 1, 3, "Broadcast1")
    film = fake_nuke.make_read(str(folder / "film" / "f.####.exr"), 101, 103, "Film1")
    node = nuke.createNode("RemasterAlign")
    node.setInput(0, bc)
    node.setInput(1, film)
    node["worker"].setValue(worker)
    node["samples"].setValue(3)
    return node


def test_compute_finds_the_cuts_framing(session: ModuleType, cut: Cut, worker_knob: str) -> None:
    folder, shot = cut
    node = _align_node(session, folder, worker_knob)
    with pytest.raises(
        Exception, match=r"with film offset 0 the cut needs film frames 1-3, the Film input has 101-103"
    ):
        fake_nuke.press(node, "compute")
    node["film_offset"].setValue(100)
    fake_nuke.press(node, "compute")
    t = Transform4(*(node[k].value() for k in ("tx", "ty", "sx", "sy")))
    assert corner_error(t, shot.geometry, FILM_SIZE) < 0.5, node["status"].value()
    assert node["k1"].value() == pytest.approx(shot.geometry.k1, abs=0.01)
    assert (node["film_width"].value(), node["film_height"].value()) == FILM_SIZE
    assert node["status"].value().startswith("cut 1-3 fitted on frames 1-3: residual")
    # the Transform node inside shows the same transform (remaster's convention -> Nuke's knobs)
    inner = node.node("AlignTransform")
    knobs = {k: (inner[k].value(0), inner[k].value(1)) for k in ("translate", "scale", "center")}
    from remaster_nuke import geometry

    for x, y in ((0.0, 0.0), (479.0, 359.0), (100.0, 250.0)):
        xb, yb = t.apply(x, y)
        assert geometry.nuke_to_output(knobs, float(xb), float(yb), 480, 360) == pytest.approx(
            (x, y), abs=1e-6
        )
    # the samples Nuke wrote: broadcast and film frames, film retimed by the offset
    assert [e[1] for e in fake_nuke.executed] == [1, 1, 2, 2, 3, 3]
    # and the same Reformat + Transform pair outside the gizmo
    fake_nuke.press(node, "export_transform")
    made = {n.Class(): n for n in session.root().nodes() if n.Class() in ("Reformat", "Transform")}
    assert made["Reformat"].input(0).name() == "Broadcast1" and made["Transform"].input(0) is made["Reformat"]
    assert made["Reformat"]["resize"].value() == "none" and made["Reformat"]["box_width"].value() == 480
    assert made["Transform"]["translate"].value(1) == inner["translate"].value(1)


def test_cut_and_offset_from_conform_json(
    session: ModuleType, cut: Cut, worker_knob: str, tmp_path: Path
) -> None:
    folder, _ = cut
    conform = tmp_path / "conform"
    conform.mkdir()
    shots = [{"first": 0, "last": 2, "film_first": 100}, {"first": 3, "last": 19, "film_first": None}]
    doc = {"frames_pattern": "frames/frame.%06d.exr", "frame_count": 20, "shots": shots}
    (conform / "conform.json").write_text(json.dumps(doc))
    node = _align_node(session, folder, worker_knob)
    node["conform_folder"].setValue(str(conform))
    node["conform_start"].setValue(1)  # conformed frame 0 is Nuke frame 1
    node["film_start"].setValue(1)  # film index 0 is Nuke frame 1: film index 100 is frame 101
    session.frame(2)
    fake_nuke.press(node, "cut_from_conform")
    assert (node["cut_first"].value(), node["cut_last"].value(), node["film_offset"].value()) == (1, 3, 100)
    session.frame(9)
    with pytest.raises(Exception, match=r"cut 1 \(conformed frames 3-19\) has no film to align to"):
        fake_nuke.press(node, "cut_from_conform")
    session.frame(40)
    with pytest.raises(Exception, match="conformed frame 39, which is in no cut"):
        fake_nuke.press(node, "cut_from_conform")

    offset = session.createNode("RemasterFilmOffset")
    offset.setInput(0, fake_nuke.make_read(str(folder / "film" / "f.####.exr"), 101, 103, "Film2"))
    offset["conform_folder"].setValue(str(conform))
    offset["conform_start"].setValue(1)
    offset["film_start"].setValue(1)
    fake_nuke.press(offset, "build")
    assert offset["status"].value() == "2 cuts, 1 with film; conformed frame 0 at frame 1"
    retime = offset.node("FilmRetime")
    for t in (1, 2, 3):  # the film plate at broadcast frame t shows film frame t + 100
        assert t - fake_nuke.evaluate(retime["time_offset"].expression(), retime, t=t) == t + 100
    assert fake_nuke.evaluate(offset.node("HasFilm")["value"].expression(), retime, t=8) == 0.0


def test_missing_inputs_are_reported(session: ModuleType, cut: Cut) -> None:
    folder, _ = cut
    node = session.createNode("RemasterAlign")
    node.setInput(0, fake_nuke.make_read(str(folder / "bc" / "b.####.exr"), 1, 3))
    with pytest.raises(Exception, match="connect both inputs"):
        fake_nuke.press(node, "compute")
    session.GUI = True
    fake_nuke.press(node, "compute")
    assert "connect both inputs" in session.messages[-1] and node["status"].value().startswith("ERROR")
