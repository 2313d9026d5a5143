"""The colour steps of a render, around the node: broadcast -> working space -> model -> output space.

A model works in the colour space it was trained in (its ``remaster.colorspace`` metadata,
``ModelInfo.working_colorspace``; a model without it works on the broadcast's code values). The render:

1. converts each input frame from the broadcast's space (``--broadcast-colorspace``, default
   ``colour_management.BROADCAST_DEFAULT``) into the model's working space;
2. runs the node (``node.render_frame``) there;
3. converts its output from the working space into ``--output-colorspace`` (default: the working space)
   and tags the file with it (``colour_management.tag_meta``: EXR ``ocio:ColorSpace`` and
   ``colorInteropID``, DPX transfer code and description).

Steps 1 and 3 are skipped when their two spaces are the same (the default for a model without colour
metadata: the pixels are what they always were). A render whose conversions are not both identities
has them in its frames' render key (``key_fields``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from remaster_core import colour_management as cm
from remaster_core.io.images import ImageMeta
from remaster_core.runtime.model import ModelInfo


@dataclass(frozen=True)
class RenderColour:
    """A render's colour spaces (canonical names of the OCIO config ``config``); picklable."""

    config: str
    broadcast: str
    working: str
    output: str

    @property
    def converts(self) -> bool:
        """True when a conversion happens (before or after the model)."""
        return self.broadcast != self.working or self.working != self.output

    def to_working(self, rgb: np.ndarray) -> np.ndarray:
        """An input frame (float32 (H, W, 3), broadcast space) in the working space."""
        return cm.convert(rgb, cm.load_config(self.config), self.broadcast, self.working)

    def to_output(self, rgb: np.ndarray) -> np.ndarray:
        """The node's output (float32 (H, W, 3), working space) in the output space."""
        return cm.convert(rgb, cm.load_config(self.config), self.working, self.output)

    def tag(self, meta: ImageMeta, ext: str) -> ImageMeta:
        """``meta`` tagged with the output space for a file of extension ``ext``."""
        return cm.tag_meta(meta, cm.load_config(self.config), self.output, ext)

    def key_fields(self) -> dict[str, Any] | None:
        """The colour part of a render key: None when nothing is converted (older keys stay valid)."""
        if not self.converts:
            return None
        return {"broadcast": self.broadcast, "working": self.working, "output": self.output}


def render_colour(
    info: ModelInfo | None,
    *,
    broadcast: str | None = None,
    output: str | None = None,
    ocio_config: str | None = None,
) -> RenderColour:
    """The render's colour spaces for the model ``info`` (None: no model runs, the working space is the
    broadcast's). The config: ``ocio_config``, else the model's own (``remaster.ocio_config``), else
    ``$OCIO`` / the built-in studio config.

    Raises:
        InputError: a config that cannot be loaded, or a name it does not have (closest ones listed),
            the model's working space included.
    """
    model_config = info.ocio_config if info is not None else None
    config = cm.load_config(ocio_config or model_config)
    broadcast_name = config.resolve(broadcast or cm.BROADCAST_DEFAULT, "--broadcast-colorspace")
    working = info.working_colorspace if info is not None else None
    working_name = (
        config.resolve(working, f"the model's working colour space ({info.path.name})")
        if working is not None and info is not None
        else broadcast_name
    )
    output_name = config.resolve(output, "--output-colorspace") if output is not None else working_name
    return RenderColour(config.source, broadcast_name, working_name, output_name)
