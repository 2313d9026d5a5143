"""The colour spaces of an alignment: the film's, the broadcast's and the working space of the pairs.

``pair_colour`` settles them once per run (``remaster_core.colour_management`` resolves the names):

- film: ``--film-colorspace``, else the first film frame's tag (``colour_management.colorspace_of``),
  else the broadcast's (an untagged scan is taken as video code values, as before colour management);
- broadcast: ``--broadcast-colorspace``, default ``colour_management.BROADCAST_DEFAULT`` (the R'G'B'
  code values the decoder gives);
- working: ``--working-colorspace``, default the broadcast's: a run that asks for nothing gets the pairs
  it always got (input frames as resampled, target frames byte copies of the scan).

Alignment compares like with like: film frames are converted to the broadcast's space before they are
matched (``PairColour.film_for_matching``). The pairs are written in the working space: input frames
converted from the broadcast's (``input``), target frames from the film's (``target``): a byte copy when
the film is already in the working space, else a half-float EXR (unclipped), tagged. Every input and
target frame written carries the working space's tag (``colour_management.tag_meta``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from remaster_core import colour_management as cm
from remaster_core.io.images import ImageMeta, read_meta
from remaster_core.manifests.align import ColourSpaces

log = logging.getLogger("remaster.align")

CONVERTED_TARGET_EXT = ".exr"


@dataclass(frozen=True)
class PairColour:
    """The colour spaces of a run (canonical names of ``config``, an OCIO config source)."""

    config: str
    film: str
    broadcast: str
    working: str
    film_source: str

    def _convert(self, rgb: np.ndarray, src: str, dst: str) -> np.ndarray:
        return cm.convert(rgb, cm.load_config(self.config), src, dst)

    def film_for_matching(self, rgb: np.ndarray) -> np.ndarray:
        """A film frame (float32 (H, W, 3), as stored) in the broadcast's space, to match against it."""
        return self._convert(rgb, self.film, self.broadcast)

    def input(self, rgb: np.ndarray) -> np.ndarray:
        """A resampled broadcast frame in the working space."""
        return self._convert(rgb, self.broadcast, self.working)

    def target(self, rgb: np.ndarray) -> np.ndarray:
        """A film frame (as stored) in the working space."""
        return self._convert(rgb, self.film, self.working)

    @property
    def copies_target(self) -> bool:
        """True when target frames are byte copies of the scan (the film is in the working space)."""
        return self.film == self.working

    def tag(self, meta: ImageMeta, ext: str) -> ImageMeta:
        """``meta`` tagged with the working space for a file of extension ``ext``."""
        return cm.tag_meta(meta, cm.load_config(self.config), self.working, ext)

    def target_extension(self, film_ext: str) -> str:
        """The target frames' extension: the scan's when copied, else ``CONVERTED_TARGET_EXT``."""
        return film_ext if self.copies_target else CONVERTED_TARGET_EXT

    def record(self) -> ColourSpaces:
        """align.json's ``colour`` block."""
        return ColourSpaces(
            working=self.working,
            film=self.film,
            broadcast=self.broadcast,
            config=self.config,
            film_source=self.film_source,
        )


def pair_colour(
    first_film_frame: Path,
    *,
    film: str | None = None,
    broadcast: str | None = None,
    working: str | None = None,
    ocio_config: str | None = None,
) -> PairColour:
    """Settle the run's colour spaces (module docstring).

    Raises:
        InputError: an OCIO config that cannot be loaded, or a name it does not have (the closest
            names listed), in an option or in the film's tag.
    """
    config = cm.load_config(ocio_config)
    broadcast_name = config.resolve(broadcast or cm.BROADCAST_DEFAULT, "--broadcast-colorspace")
    if film is not None:
        film_name, how = config.resolve(film, "--film-colorspace"), "--film-colorspace"
    else:
        tagged, why = cm.colorspace_of(read_meta(first_film_frame), config)
        if tagged is not None:
            film_name, how = tagged, f"tag of {first_film_frame.name}: {why}"
        else:
            film_name = broadcast_name
            how = f"stated default ({why}): the film is taken as the broadcast's code values"
    working_name = config.resolve(working, "--working-colorspace") if working is not None else broadcast_name
    log.info(
        "colour: film %r (%s), broadcast %r, pairs in %r (OCIO config %s)",
        film_name, how, broadcast_name, working_name, config.source,
    )  # fmt: skip
    return PairColour(config.source, film_name, broadcast_name, working_name, how)
