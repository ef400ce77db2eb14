"""HDR video (PQ or HLG, BT.2020) brought to the SDR frames the models see, as a player shows it on an SDR screen.

A phone's HDR clip read plainly — its 10-bit code values taken as if they were BT.709 — comes in washed out and
grey: PQ puts diffuse white at about 58% of the code range, HLG at 75%, and BT.2020's primaries are wider. The
bundled FFmpeg has no zscale (libzimg) and swscale converts matrices, not transfer functions, so the mapping is
done here on the decoded R'G'B', in the order of ITU-R BT.2408 / BT.2390: to display light in nits, reference
white (203 nits) to the SDR screen's white, BT.2020 to BT.709 primaries, highlights rolled off with BT.2390's
EETF (in PQ space, on each pixel's brightest channel so hues keep), then BT.1886's gamma 2.4 for an SDR screen.
"""

from __future__ import annotations

from functools import cache

import numpy as np

# Transfer characteristics as FFmpeg numbers them (AVColorTransferCharacteristic).
PQ, HLG = 16, 18
REFERENCE_WHITE = 203.0  # nits: HDR diffuse white (ITU-R BT.2408) and the SDR screen's white
HLG_PEAK = 1000.0  # nits: the nominal HLG display (BT.2100's system gamma 1.2 is for this peak)
PQ_PEAK = 1000.0  # nits: what phone PQ video is mastered to when its metadata is not read

# Linear BT.2020 RGB to linear BT.709 RGB (ITU-R BT.2087)
BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], dtype=np.float32
)
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32


def is_hdr(color_trc: int | None) -> bool:
    return color_trc in (PQ, HLG)


def pq_to_nits(e: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: PQ signal in [0, 1] to display light in nits."""
    p = np.power(np.clip(e, 0, 1), 1 / _M2)
    return 10000 * np.power(np.maximum(p - _C1, 0) / (_C2 - _C3 * p), 1 / _M1)


def nits_to_pq(nits: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 inverse EOTF."""
    y = np.power(np.clip(nits / 10000, 0, 1), _M1)
    return np.power((_C1 + _C2 * y) / (1 + _C3 * y), _M2)


def hlg_to_scene(e: np.ndarray) -> np.ndarray:
    """BT.2100 HLG inverse OETF: signal in [0, 1] to scene light in [0, 1]."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.clip(e, 0, 1)
    return np.where(e <= 0.5, e * e / 3, (np.exp((e - c) / a) + b) / 12)


def _eetf(e: np.ndarray, source_peak: float, target_peak: float) -> np.ndarray:
    """ITU-R BT.2390 EETF: PQ-coded light up to ``source_peak`` rolled into ``target_peak`` with a Hermite knee;
    below the knee, light is left as it is."""
    lo, hi = float(nits_to_pq(np.float32(0))), float(nits_to_pq(np.float32(source_peak)))
    x = np.clip((e - lo) / (hi - lo), 0, 1)
    max_lum = (float(nits_to_pq(np.float32(target_peak))) - lo) / (hi - lo)
    knee = 1.5 * max_lum - 0.5
    t = (x - knee) / (1 - knee)
    spline = (2 * t**3 - 3 * t**2 + 1) * knee + (t**3 - 2 * t**2 + t) * (1 - knee) + (-2 * t**3 + 3 * t**2) * max_lum
    return np.where(x < knee, x, spline) * (hi - lo) + lo


@cache
def _tables(color_trc: int) -> tuple[np.ndarray, np.ndarray]:
    """Every 16-bit code's light (nits for PQ, scene light for HLG), and the rolled-off light at 4097 steps of
    PQ-coded brightness: exact for 16-bit input, and cheaper per pixel than the formulas."""
    codes = np.arange(65536, dtype=np.float32) / 65535
    light = (pq_to_nits(codes) if color_trc == PQ else hlg_to_scene(codes)).astype(np.float32)
    peak = PQ_PEAK if color_trc == PQ else HLG_PEAK
    grid = np.linspace(0, 1, 4097, dtype=np.float32)
    return light, pq_to_nits(_eetf(grid, peak, REFERENCE_WHITE)).astype(np.float32)


def to_sdr(rgb: np.ndarray, color_trc: int) -> np.ndarray:
    """16-bit non-linear BT.2020 R'G'B' (H, W, 3) uint16, PQ or HLG coded, to uint8 BT.709 SDR RGB."""
    light, rolled_at = _tables(color_trc)
    nits = light[rgb]
    if color_trc == HLG:  # the OOTF: system gamma 1.2 on BT.2020 luminance, for a 1000-nit display
        luma = nits @ np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)
        nits *= (HLG_PEAK * np.power(np.maximum(luma, 1e-6), np.float32(0.2)))[..., None]
    nits = np.maximum(nits @ BT2020_TO_BT709.T, 0)
    brightest = np.maximum(np.maximum(nits[..., 0], nits[..., 1]), nits[..., 2])
    rolled = rolled_at[np.rint(nits_to_pq(brightest) * (len(rolled_at) - 1)).astype(np.intp)]
    scale = rolled / (np.maximum(brightest, 1e-6) * np.float32(REFERENCE_WHITE))
    linear = np.clip(nits * scale[..., None], 0, 1)
    return np.round(255 * np.power(linear, np.float32(1 / 2.4))).astype(np.uint8)
