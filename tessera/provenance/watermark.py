"""Invisible watermark for small videos: a tiled spread-spectrum mark in the luma, read from frames alone.

Why a method of our own: the classic DWT-DCT-SVD and RivaGAN marks of ``invisible-watermark`` refuse frames
smaller than 256x256, and Tessera's default clips are 64x64. This mark works on frames of 32x32 and more:

- A public key expands into a sync pattern and one pattern per payload bit, each a ``TILE x TILE`` field
  limited to periods of about 5-32 px off the two frequency axes (coarse enough to survive H.264 and
  downscaling, and away from the energy of horizontal and vertical edges); sync and bits use disjoint
  frequencies and the bit patterns are orthonormal. The mark ``4 sync + sum(+-bit_i)`` is tiled over the
  frame and added to R, G and B alike (a luma change), the same in every frame, so a codec's inter
  prediction carries it and dropped frames do not matter.
- Detection removes the picture as far as it can (a wide high-pass, pixels near steep edges zeroed), folds
  every frame into one ``TILE x TILE`` accumulator, whitens its spectrum inside the band, and correlates
  with every pattern at every cyclic phase (so crops are fine), for a ladder of rescalings (so downscales to
  half and upscales to 8x are fine).
  Under "no mark" each correlation is zero-mean with a known variance, so the statistic — sync plus the
  payload correlations with their best signs — has a known null mean and spread; its z at the best phase,
  Bonferroni-corrected over phases and scales, is the p-value. Bits are the signs at that phase.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from tessera.errors import InvalidInputError

TILE = 64  # the mark repeats every TILE pixels; smaller frames carry part of one tile
MIN_SIZE = 32
PAYLOAD_BITS = 32
DEFAULT_KEY = 0x7E55E7A  # "tessera": a fixed public key, so anyone can check Tessera's own outputs
DEFAULT_STRENGTH = 3.0  # RMS of the mark in 0-255 units: about 38.6 dB PSNR
# Rescalings tried by the detector (the received size vs the original), a step of sqrt(2) apart. Upscales up to 8x:
# a 64x64 clip is upscaled to be seen or shared, and at 2x (128x128) the mark went unseen (p = 0.43) when the
# ladder stopped at 1.41. A scale that leaves the frame under MIN_SIZE is skipped, so small frames cost no more.
SCALES = (1.0, 0.71, 0.5, 1.41, 2.0, 2.83, 4.0, 5.66, 8.0)
DETECTION_P = 1e-6  # p-value below which a mark counts as present
EDGE_SLOPE = 4.0  # levels per pixel: about the mark's steepest slope at the default strength
SYNC_WEIGHT = 4.0  # sync amplitude vs one bit's: 16 / (16 + 32) of the energy


@dataclass
class Detection:
    detected: bool
    p_value: float
    z: float
    payload: int | None  # decoded bits as an integer (None when no mark)
    bits: np.ndarray  # decoded bits (0/1)
    scale: float
    phase: tuple[int, int]

    def bit_accuracy(self, payload: int) -> float:
        return float(np.mean(self.bits == payload_bits(payload)))


def payload_bits(payload: int) -> np.ndarray:
    if not 0 <= payload < 2**PAYLOAD_BITS:
        raise InvalidInputError(f"watermark payload must fit in {PAYLOAD_BITS} bits, got {payload}")
    return np.array([(payload >> i) & 1 for i in range(PAYLOAD_BITS)], dtype=np.uint8)


def make_payload(generator_id: int, content: bytes | str) -> int:
    """8-bit generator id + 24-bit content id (a CRC of the content key): what the mark carries."""
    if not 0 <= generator_id < 256:
        raise InvalidInputError(f"generator_id must be 0..255, got {generator_id}")
    data = content.encode() if isinstance(content, str) else content
    return (generator_id << 24) | (zlib.crc32(data) & 0xFFFFFF)


def _bands(key: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint frequency sets of the tile for the sync pattern and the payload patterns.

    Disjoint, so the payload never disturbs the phase estimate: the detector whitens the sync bins (phase
    correlation) and a payload pattern sharing them would scramble their phases.
    """
    fy = np.fft.fftfreq(TILE)[:, None] * TILE
    fx = np.fft.fftfreq(TILE)[None, :] * TILE
    radius = np.hypot(fy, fx)
    # Periods of about 5 to 32 px, off the two axes: horizontal and vertical edges (the floor, the pillar,
    # squares) put their energy on the axes, where a mark would drown.
    band = (radius >= TILE / 32) & (radius <= TILE / 5.3) & (fy != 0) & (fx != 0)
    # Pick whole Hermitian pairs (f, -f) so both sets give real patterns.
    rng = np.random.default_rng([key, 1])
    sync = np.zeros_like(band)
    for y, x in zip(*np.nonzero(band), strict=True):
        my, mx = (-y) % TILE, (-x) % TILE
        if (y, x) <= (my, mx) and rng.random() < 0.4:
            sync[y, x] = sync[my, mx] = True
    return sync, band & ~sync


def _project(field: np.ndarray, bins: np.ndarray) -> np.ndarray:
    return np.real(np.fft.ifft2(np.fft.fft2(field) * bins))


def patterns(key: int = DEFAULT_KEY) -> np.ndarray:
    """(1 + PAYLOAD_BITS, TILE, TILE): the sync pattern and one pattern per bit, unit RMS; the bit patterns
    are orthonormal and live on other frequencies than the sync."""
    rng = np.random.default_rng(key)
    sync_bins, bit_bins = _bands(key)
    sync = _project(rng.standard_normal((TILE, TILE)), sync_bins)
    bits = np.stack([_project(rng.standard_normal((TILE, TILE)), bit_bins) for _ in range(PAYLOAD_BITS)])
    bits = np.linalg.qr(bits.reshape(PAYLOAD_BITS, -1).T)[0].T.reshape(PAYLOAD_BITS, TILE, TILE)
    out = np.concatenate([sync[None] / np.sqrt(np.mean(sync**2)), bits * TILE])
    return out


_CACHE: dict[int, np.ndarray] = {}


def _patterns(key: int) -> np.ndarray:
    if key not in _CACHE:
        _CACHE[key] = patterns(key)
    return _CACHE[key]


def mark_field(payload: int, height: int, width: int, key: int = DEFAULT_KEY) -> np.ndarray:
    """The additive mark (height, width), unit RMS."""
    pats = _patterns(key)
    signs = 2.0 * payload_bits(payload) - 1.0
    # The sync pattern carries a third of the energy: finding the phase is what every bit depends on.
    tile = SYNC_WEIGHT * pats[0] + np.tensordot(signs, pats[1:], axes=1)
    tile /= np.sqrt(np.mean(tile**2))
    reps = (math.ceil(height / TILE), math.ceil(width / TILE))
    return np.tile(tile, reps)[:height, :width]


def embed(frames: np.ndarray, payload: int, key: int = DEFAULT_KEY, strength: float = DEFAULT_STRENGTH) -> np.ndarray:
    """Add the mark to uint8 frames (T, H, W, 3); returns new uint8 frames."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InvalidInputError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    h, w = frames.shape[1:3]
    if min(h, w) < MIN_SIZE:
        raise InvalidInputError(f"frames must be at least {MIN_SIZE}x{MIN_SIZE} to carry a watermark, got {w}x{h}")
    field = strength * mark_field(payload, h, w, key)
    out = frames.astype(np.float32) + field[None, :, :, None].astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _residual(luma: np.ndarray) -> np.ndarray:
    """The picture with its content removed as far as possible, keeping the mark's band.

    The mark is smooth (its steepest slope is a few levels per pixel); object edges are steep. Pixels near a
    steep edge are zeroed — an edge carries energy at every frequency and would drown the mark. Between the
    edges, each connected region loses its own mean (a flat-coloured object or background then leaves only
    the mark, and a blur across an edge can no longer leak the step into the band), and what shading is
    left is taken out with a wide blur over the region pixels only.
    """
    gy, gx = np.gradient(luma, axis=(1, 2))
    slope = np.hypot(gy, gx)
    # Steep = well above the mark's own slope and among the steepest fifth, so textured pictures keep most
    # of their pixels (the whitening then copes with the texture).
    steep = (slope > 3 * EDGE_SLOPE) & (slope >= np.quantile(slope, 0.8))
    valid = ~ndimage.binary_dilation(steep, structure=np.ones((1, 5, 5)))
    r = np.zeros_like(luma)
    for k in range(len(luma)):
        labels, n = ndimage.label(valid[k])
        if n:
            means = ndimage.mean(luma[k], labels, np.arange(1, n + 1))
            r[k] = np.where(labels > 0, luma[k] - np.concatenate([[0.0], means])[labels], 0.0)
    weight = ndimage.gaussian_filter(valid.astype(np.float32), sigma=(0, 8, 8))
    shading = ndimage.gaussian_filter(r, sigma=(0, 8, 8)) / np.maximum(weight, 1e-3)
    r = np.where(valid, r - shading, 0.0)
    limit = 8.0 * EDGE_SLOPE
    return np.clip(r, -limit, limit)


def _fold(res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum every TILE x TILE cell of every frame into one tile (and count the pixels in each position)."""
    t, h, w = res.shape
    hh, ww = math.ceil(h / TILE) * TILE, math.ceil(w / TILE) * TILE
    padded = np.zeros((t, hh, ww))
    count = np.zeros((hh, ww))
    padded[:, :h, :w] = res
    count[:h, :w] = t
    acc = padded.reshape(t, hh // TILE, TILE, ww // TILE, TILE).sum(axis=(0, 1, 3))
    cnt = count.reshape(hh // TILE, TILE, ww // TILE, TILE).sum(axis=(0, 2))
    return acc, cnt


def detect(frames: np.ndarray, key: int = DEFAULT_KEY, scales: tuple[float, ...] = SCALES) -> Detection:
    """Look for the mark in uint8 frames (T, H, W, 3) of any size and length."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidInputError(f"expected frames (T, H, W, 3), got {frames.shape}")
    luma = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    pats = _patterns(key)
    sync_bins, bit_bins = _bands(key)
    band = sync_bins | bit_bins
    pats_f = np.conj(np.fft.fft2(pats))  # (33, TILE, TILE)
    sigma = np.sqrt((np.abs(pats_f) ** 2 * band).sum(axis=(1, 2))) / TILE**2
    null_mean = PAYLOAD_BITS * math.sqrt(2 / math.pi)
    null_sd = math.sqrt(PAYLOAD_BITS * (1 - 2 / math.pi) + SYNC_WEIGHT**2)
    best = None
    for scale in scales:
        src = luma if scale == 1.0 else ndimage.zoom(luma, (1, 1 / scale, 1 / scale), order=1)
        if min(src.shape[1:]) < MIN_SIZE:
            continue
        acc, _ = _fold(_residual(src))
        spectrum = np.fft.fft2(acc)
        # Whiten inside the mark's band: the picture's own spectrum is flattened, so every frequency of the mark
        # counts alike. Under "no mark" each frequency's phase is then arbitrary, and each correlation is a sum
        # of many independent terms with zero mean and a variance fixed by the pattern's spectrum.
        spectrum = np.where(band, spectrum / (np.abs(spectrum) + 1e-9), 0)
        corr = np.real(np.fft.ifft2(spectrum[None] * pats_f))  # (33, TILE, TILE): every pattern at every phase
        # The statistic per phase: the sync correlation plus the payload correlations with their best signs,
        # in units of those standard deviations; its null mean and spread follow (half-normal sums).
        zc = corr / sigma[:, None, None]
        stat = SYNC_WEIGHT * zc[0] + np.abs(zc[1:]).sum(0)
        k = int(np.argmax(stat))
        z = (stat.ravel()[k] - null_mean) / null_sd
        if best is None or z > best[0]:
            dy, dx = np.unravel_index(k, stat.shape)
            best = (z, scale, (int(dy), int(dx)), zc[1:, dy, dx])
    if best is None:
        raise InvalidInputError(f"frames are too small to carry a watermark (need {MIN_SIZE}x{MIN_SIZE})")
    z, scale, (dy, dx), scores = best
    bits = (scores > 0).astype(np.uint8)
    # The best of TILE^2 phases and len(scales) scales: Bonferroni-correct the Gaussian tail.
    trials = TILE * TILE * len(scales)
    p = float(min(1.0, trials * 0.5 * special.erfc(z / math.sqrt(2))))
    detected = p < DETECTION_P
    payload = int(sum(int(b) << i for i, b in enumerate(bits))) if detected else None
    return Detection(detected, p, float(z), payload, bits, scale, (dy, dx))
