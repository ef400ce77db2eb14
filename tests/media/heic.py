"""A gridded HEIC, as a phone writes one, built box by box for tests (pillow-heif writes no grids)."""

from __future__ import annotations

import io
import struct

import numpy as np


def _box(kind: bytes, payload: bytes, version: int | None = None, flags: int = 0) -> bytes:
    head = b"" if version is None else struct.pack(">I", version << 24 | flags)
    return struct.pack(">I", 8 + len(head) + len(payload)) + kind + head + payload


def _children(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    while start < end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        yield kind, data[start : start + size]
        start += size


def _hevc_tile(tile: np.ndarray) -> tuple[bytes, bytes]:
    """One tile encoded as a HEIC of its own by libheif; returns its hvcC box and its coded bytes."""
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_bytes("RGB", (tile.shape[1], tile.shape[0]), tile.tobytes()).save(buffer, quality=95)
    boxes = dict(_children(buffer.getvalue()))
    meta = boxes[b"meta"]
    iprp = dict(_children(meta, 12))[b"iprp"]
    ipco = dict(_children(iprp, 8))[b"ipco"]
    return dict(_children(ipco, 8))[b"hvcC"], boxes[b"mdat"][8:]  # one image: the mdat holds only its bytes


def gridded_heic(image: np.ndarray, tile: int, quarter_turns: int = 0) -> bytes:
    """A HEIC laid out as a phone writes one (ISO/IEC 23008-12): ``image`` cut into tile x tile HEVC images, a
    'grid' item that joins them (the right and bottom edges cropped off) and an 'irot' turn of 90 degrees
    anticlockwise times ``quarter_turns``. pillow-heif writes no grids, so the boxes are written here."""
    h, w = image.shape[:2]
    rows, cols = -(-h // tile), -(-w // tile)
    padded = np.zeros((rows * tile, cols * tile, 3), np.uint8)
    padded[:h, :w] = image
    tiles = [
        _hevc_tile(padded[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile])
        for r in range(rows)
        for c in range(cols)
    ]
    n, grid_id = len(tiles), len(tiles) + 1
    infe = b"".join(_box(b"infe", struct.pack(">HH4s", i + 1, 0, b"hvc1") + b"\0", 2, 1) for i in range(n))
    infe += _box(b"infe", struct.pack(">HH4s", grid_id, 0, b"grid") + b"\0", 2)
    dimg = _box(b"dimg", struct.pack(">HH", grid_id, n) + b"".join(struct.pack(">H", i + 1) for i in range(n)))
    ipco = b"".join(hvcc for hvcc, _ in tiles)
    ipco += _box(b"ispe", struct.pack(">II", tile, tile), 0) + _box(b"ispe", struct.pack(">II", w, h), 0)
    ipco += _box(b"irot", bytes([quarter_turns % 4]))
    ipma = b"".join(struct.pack(">HBBB", i + 1, 2, 0x80 | (i + 1), n + 1) for i in range(n))
    ipma += struct.pack(">HBBB", grid_id, 2, n + 2, 0x80 | (n + 3))  # its size; the turn, essential
    grid = struct.pack(">BBBBHH", 0, 0, rows - 1, cols - 1, w, h)

    def meta(mdat_start: int) -> bytes:
        offsets, at = [], mdat_start + 8
        for _, coded in tiles:
            offsets.append(at)
            at += len(coded)
        iloc = struct.pack(">BBH", 0x44, 0x00, n + 1)  # 4-byte offsets and lengths, no base offset
        iloc += b"".join(struct.pack(">HHHHII", i + 1, 0, 0, 1, offsets[i], len(tiles[i][1])) for i in range(n))
        iloc += struct.pack(">HHHHII", grid_id, 1, 0, 1, 0, len(grid))  # construction method 1: from idat
        return _box(
            b"meta",
            _box(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 13, 0)
            + _box(b"pitm", struct.pack(">H", grid_id), 0)
            + _box(b"iloc", iloc, 1)
            + _box(b"iinf", struct.pack(">H", n + 1) + infe, 0)
            + _box(b"iref", dimg, 0)
            + _box(b"iprp", _box(b"ipco", ipco) + _box(b"ipma", struct.pack(">I", n + 1) + ipma, 0))
            + _box(b"idat", grid),
            0,
        )

    ftyp = _box(b"ftyp", b"heic" + b"\0\0\0\0" + b"mif1heic")
    start = len(ftyp) + len(meta(0))
    mdat = _box(b"mdat", b"".join(coded for _, coded in tiles))
    return ftyp + meta(start) + mdat
