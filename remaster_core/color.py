"""Y'CbCr <-> R'G'B' conversion with the standard named, and chroma upsampling with its siting stated.

Everything here works on *gamma-encoded* values: R'G'B' in 0..1 is the code value a display would be
sent, normalised; no transfer function is applied or removed. Math is float32.

Matrices (ITU-R BT.601 and BT.709 luma coefficients)::

    E'y = Kr R' + Kg G' + Kb B'          Kr, Kb = 0.299, 0.114 (bt601) or 0.2126, 0.0722 (bt709)
    E'pb = (B' - E'y) / (2 (1 - Kb))     Kg = 1 - Kr - Kb
    E'pr = (R' - E'y) / (2 (1 - Kr))

Quantisation to ``bit_depth``-bit code values, with s = 2 ** (bit_depth - 8):

- ``limited`` ("studio", "tv", "MPEG" range): Y = 16 s + 219 s E'y, C = 128 s + 224 s E'p
  (8 bit: Y 16..235, C 16..240; 10 bit: Y 64..940, C 64..960).
- ``full`` ("pc", "JPEG" range, as JFIF and BT.2100 full range): Y = (2^n - 1) E'y,
  C = 2^(n-1) + (2^n - 1) E'p.

Out-of-range values are *kept* by default: limited-range video legitimately carries super-whites
(Y > 235) and sub-blacks (Y < 16), and colour-difference combinations outside the R'G'B' cube; a film
remaster wants that headroom, not a hard clip. ``clip=True`` clips R'G'B' to 0..1.

Chroma siting (``upsample_chroma``), in luma sample units, for chroma sample i / chroma row j:

- horizontal: co-sited with the first luma sample of its group (MPEG-2, H.264 default "left", DV):
  x = 2 i for 4:2:0 and 4:2:2, x = 4 i for 4:1:1;
- vertical, progressive 4:2:0 (MPEG-2): centred between the two luma rows it covers: y = 2 j + 0.5;
- vertical, interlaced 4:2:0 (MPEG-2 field siting): chroma rows alternate fields (row 0 top field,
  row 1 bottom field, ...). In its own field's line numbering the top field's chroma row k sits at
  field line 2 k + 0.25 and the bottom field's at 2 k + 0.75, i.e. frame rows 4 k + 0.5 and 4 k + 2.5:
  the same frame positions as progressive siting, but each field's chroma only serves its own lines.

Upsampling is linear interpolation between the two nearest chroma samples at those positions, edges
replicated. Downsampling (``downsample_chroma``, used to encode) is the matching co-sited filter:
[1, 2, 1] / 4 horizontally, a 2-row mean vertically for progressive 4:2:0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

YCbCrMatrix = Literal["bt601", "bt709"]
Range = Literal["limited", "full"]

# Vertical position of a field's chroma row k, in that field's lines: 2 k + phase (MPEG-2 4:2:0 interlaced).
_FIELD_PHASE = {"top": 0.25, "bottom": 0.75}

_LUMA_COEFFS: dict[str, tuple[float, float]] = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def _coeffs(matrix: str) -> tuple[float, float, float]:
    if matrix not in _LUMA_COEFFS:
        raise ValueError(f"unknown Y'CbCr matrix {matrix!r}: use 'bt601' or 'bt709'")
    kr, kb = _LUMA_COEFFS[matrix]
    return kr, 1.0 - kr - kb, kb


def code_levels(range: Range, bit_depth: int) -> tuple[float, float, float, float]:
    """Return ``(y_offset, y_scale, c_offset, c_scale)``: Y = y_offset + y_scale E'y, C = c_offset + c_scale E'p.

    Example: ``code_levels("limited", 8) == (16.0, 219.0, 128.0, 224.0)``.
    """
    if not 8 <= bit_depth <= 16:
        raise ValueError(f"bit_depth must be 8..16, got {bit_depth}")
    if range == "limited":
        s = float(2 ** (bit_depth - 8))
        return 16.0 * s, 219.0 * s, 128.0 * s, 224.0 * s
    if range == "full":
        top = float(2**bit_depth - 1)
        return 0.0, top, float(2 ** (bit_depth - 1)), top
    raise ValueError(f"unknown range {range!r}: use 'limited' or 'full'")


def rgb_to_ypbpr_matrix(matrix: YCbCrMatrix) -> np.ndarray:
    """The 3x3 float64 matrix M with (E'y, E'pb, E'pr) = M @ (R', G', B') for ``matrix``."""
    kr, kg, kb = _coeffs(matrix)
    return np.array(
        [
            [kr, kg, kb],
            [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
            [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
        ]
    )


def ycbcr_to_rgb(
    y: np.ndarray,
    cb: np.ndarray,
    cr: np.ndarray,
    *,
    matrix: YCbCrMatrix,
    range: Range,
    bit_depth: int = 8,
    clip: bool = False,
) -> np.ndarray:
    """Convert Y'CbCr code values to R'G'B' float32 (H, W, 3) in 0..1 (gamma-encoded, not linearised).

    Args:
        y, cb, cr: planes of the same (H, W) shape, already at full resolution (see ``upsample_chroma``);
            integer code values (uint8/uint16) or float codes.
        matrix: "bt601" (SD: NTSC/PAL, SMPTE 170M, BT.470BG) or "bt709" (HD).
        range: "limited" (Y 16..235, C 16..240 at 8 bit, scaled by 2^(bit_depth-8)) or "full".
        bit_depth: bits per code value of the planes (8 for MPEG-2/DV, 10 for ProRes).
        clip: clip the result to 0..1. Off by default: super-whites and sub-blacks come back > 1 / < 0.

    Example:
        >>> ycbcr_to_rgb(np.array([[235]]), np.array([[128]]), np.array([[128]]), matrix="bt601", range="limited")
        array([[[1., 1., 1.]]], dtype=float32)
    """
    if not (y.shape == cb.shape == cr.shape and y.ndim == 2):
        raise ValueError(
            f"y, cb, cr must be (H, W) planes of one shape, got {y.shape}, {cb.shape}, {cr.shape}"
        )
    y_off, y_scale, c_off, c_scale = code_levels(range, bit_depth)
    kr, kg, kb = _coeffs(matrix)
    # The inverse of rgb_to_ypbpr_matrix in closed form: R' = E'y + 2 (1 - Kr) E'pr,
    # B' = E'y + 2 (1 - Kb) E'pb, G' = E'y - (2 Kb (1 - Kb) E'pb + 2 Kr (1 - Kr) E'pr) / Kg.
    r_pr, b_pb = np.float32(2 * (1 - kr)), np.float32(2 * (1 - kb))
    g_pb, g_pr = np.float32(2 * kb * (1 - kb) / kg), np.float32(2 * kr * (1 - kr) / kg)
    ey = (y.astype(np.float32) - np.float32(y_off)) / np.float32(y_scale)
    pb = (cb.astype(np.float32) - np.float32(c_off)) / np.float32(c_scale)
    pr = (cr.astype(np.float32) - np.float32(c_off)) / np.float32(c_scale)
    rgb = np.empty((*y.shape, 3), dtype=np.float32)
    # One output channel at a time, written in place: no (H, W, 3) temporaries.
    np.add(ey, pr * r_pr, out=rgb[..., 0])
    np.subtract(ey, pb * g_pb + pr * g_pr, out=rgb[..., 1])
    np.add(ey, pb * b_pb, out=rgb[..., 2])
    if clip:
        np.clip(rgb, 0.0, 1.0, out=rgb)
    return rgb


def rgb_to_ycbcr(
    rgb: np.ndarray, *, matrix: YCbCrMatrix, range: Range, bit_depth: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert R'G'B' (H, W, 3) in 0..1 (gamma-encoded) to unrounded float32 Y', Cb, Cr code values.

    The exact inverse of ``ycbcr_to_rgb`` (same matrix, range and bit depth). Nothing is clipped or
    rounded: round and clip to the code range when you quantise (``quantise_codes``).

    Example:
        >>> y, cb, cr = rgb_to_ycbcr(np.full((1, 1, 3), 0.75, np.float32), matrix="bt601", range="limited")
        >>> float(y[0, 0]), float(cb[0, 0])
        (180.25, 128.0)
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3), got {rgb.shape}")
    y_off, y_scale, c_off, c_scale = code_levels(range, bit_depth)
    m = rgb_to_ypbpr_matrix(matrix)
    rgb = rgb.astype(np.float32, copy=False)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    planes = []
    for row, off, scale in ((m[0], y_off, y_scale), (m[1], c_off, c_scale), (m[2], c_off, c_scale)):
        k0, k1, k2 = (np.float32(v * scale) for v in row)
        planes.append(r * k0 + g * k1 + b * k2 + np.float32(off))
    return planes[0], planes[1], planes[2]


def quantise_codes(plane: np.ndarray, bit_depth: int) -> np.ndarray:
    """Round float code values and clip them to 0..2^bit_depth-1: uint8 for 8 bit, uint16 above."""
    dtype = np.uint8 if bit_depth <= 8 else np.uint16
    return np.clip(np.rint(plane), 0, 2**bit_depth - 1).astype(dtype)


def _subsampling_factor(full: int, sub: int, candidates: tuple[int, ...], axis: str) -> int:
    for factor in candidates:
        if -(-full // factor) == sub:
            return factor
    raise ValueError(
        f"chroma {axis} {sub} does not match a subsampling of luma {axis} {full} by {candidates}"
    )


def _linear_taps(
    n_out: int, n_in: int, factor: int, phase: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices i0, i1 and weight w so that out[n] = (1 - w) in[i0] + w in[i1], for input sample k sited at
    output position factor * k + phase."""
    pos = (np.arange(n_out, dtype=np.float64) - phase) / factor
    pos = np.clip(pos, 0.0, n_in - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0).astype(np.float32)


def _resample_rows(c: np.ndarray, n_out: int, factor: int, phase: float) -> np.ndarray:
    if factor == 1 and phase == 0.0:
        return c
    i0, i1, w = _linear_taps(n_out, c.shape[0], factor, phase)
    w = w[:, None]
    return c[i0] * (1.0 - w) + c[i1] * w


def _resample_cols(c: np.ndarray, n_out: int, factor: int) -> np.ndarray:
    if factor == 1:
        return c
    i0, i1, w = _linear_taps(n_out, c.shape[1], factor, 0.0)
    return c[:, i0] * (1.0 - w) + c[:, i1] * w


def upsample_chroma(c: np.ndarray, *, width: int, height: int, interlaced: bool) -> np.ndarray:
    """Upsample one subsampled chroma plane (4:2:0, 4:2:2, 4:1:1 or 4:4:4) to luma size.

    The subsampling is read from the shapes: chroma width ceil(width / fx) with fx in (1, 2, 4), chroma
    height ceil(height / fy) with fy in (1, 2). Siting is as in the module docstring (MPEG-2: horizontal
    co-sited, vertical centred; for ``interlaced`` 4:2:0 each field's chroma rows are interpolated within
    that field at phase 1/4 (top) or 3/4 (bottom) and the fields re-interleaved). ``interlaced`` makes no
    difference when chroma is not subsampled vertically.

    Args:
        c: (Hc, Wc) chroma codes, any integer or float dtype.
        width, height: the luma plane's size.
        interlaced: whether the frame's 4:2:0 chroma is field-based (MPEG-2 interlaced picture).

    Returns:
        (height, width) float32 codes.
    """
    if c.ndim != 2:
        raise ValueError(f"chroma plane must be (H, W), got {c.shape}")
    fx = _subsampling_factor(width, c.shape[1], (1, 2, 4), "width")
    fy = _subsampling_factor(height, c.shape[0], (1, 2), "height")
    c = c.astype(np.float32, copy=False)
    c = _resample_cols(c, width, fx)
    if fy == 1:
        return np.ascontiguousarray(c, dtype=np.float32)
    if not interlaced:
        return _resample_rows(c, height, 2, 0.5).astype(np.float32, copy=False)
    out = np.empty((height, width), dtype=np.float32)
    out[0::2] = _resample_rows(c[0::2], (height + 1) // 2, 2, _FIELD_PHASE["top"])
    if height > 1:
        # A chroma plane with a single row has no bottom-field row: the top row serves both fields.
        bottom = c[1::2] if c.shape[0] > 1 else c
        out[1::2] = _resample_rows(bottom, height // 2, 2, _FIELD_PHASE["bottom"])
    return out


def upsample_field_chroma(
    c: np.ndarray, *, width: int, height: int, parity: Literal["top", "bottom"]
) -> np.ndarray:
    """Upsample one field's chroma plane to the field's luma size (``height`` = the field's line count).

    For 4:2:0 the field's chroma row k sits at field line 2 k + 0.25 (top) or 2 k + 0.75 (bottom), the
    MPEG-2 interlaced siting; for 4:2:2 / 4:1:1 only the horizontal upsampling applies.

    Args:
        c: (Hc, Wc) the field's chroma codes (frame chroma rows 0::2 for top, 1::2 for bottom).
        width, height: the field's luma plane size.
        parity: "top" or "bottom".

    Returns:
        (height, width) float32 codes.
    """
    if c.ndim != 2:
        raise ValueError(f"chroma plane must be (H, W), got {c.shape}")
    fx = _subsampling_factor(width, c.shape[1], (1, 2, 4), "width")
    if c.shape[0] == height:
        fy = 1
    elif c.shape[0] in (height // 2, (height + 1) // 2):
        fy = 2  # a field of an odd-height 4:2:0 frame can have floor or ceil of half its lines
    else:
        raise ValueError(f"field chroma height {c.shape[0]} does not fit field luma height {height}")
    c = _resample_cols(c.astype(np.float32, copy=False), width, fx)
    if fy == 1:
        return np.ascontiguousarray(c, dtype=np.float32)
    return _resample_rows(c, height, 2, _FIELD_PHASE[parity]).astype(np.float32, copy=False)


def downsample_chroma(c: np.ndarray, *, fx: int, fy: int) -> np.ndarray:
    """Subsample a full-size float chroma plane (H, W) for encoding, with the siting ``upsample_chroma`` reads.

    Horizontal (fx = 2): [1, 2, 1] / 4 centred on the even (co-sited) samples, output width ceil(W / 2).
    Vertical (fy = 2, progressive 4:2:0): the mean of rows 2j and 2j + 1 (sited between them), output
    height ceil(H / 2). Returns float32 codes, unrounded.
    """
    if fx not in (1, 2) or fy not in (1, 2):
        raise ValueError(f"downsample_chroma supports factors 1 and 2, got fx={fx}, fy={fy}")
    c = c.astype(np.float32, copy=False)
    if fx == 2:
        padded = np.pad(c, ((0, 0), (1, 1)), mode="edge")
        even = padded[:, 1:-1:2]
        left = padded[:, 0:-2:2]
        right = padded[:, 2::2]
        c = 0.25 * left + 0.5 * even + 0.25 * right
    if fy == 2:
        if c.shape[0] % 2:
            c = np.concatenate([c, c[-1:]], axis=0)
        c = 0.5 * (c[0::2] + c[1::2])
    return np.ascontiguousarray(c, dtype=np.float32)
