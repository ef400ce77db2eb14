"""A Display P3 ICC profile, built from the standard's numbers for tests (Pillow builds only sRGB and Lab)."""

from __future__ import annotations

import struct

# Display P3's primaries and white, adapted to the ICC's D50 (Bradford), as Apple's profile lists them; its
# transfer curve is sRGB's.
COLORANTS = {
    b"rXYZ": (0.515102, 0.241182, -0.001049),
    b"gXYZ": (0.291965, 0.692236, 0.041885),
    b"bXYZ": (0.157153, 0.066583, 0.784097),
    b"wtpt": (0.964203, 1.0, 0.824905),
}
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)  # ICC parametric curve type 3


def _fixed(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def display_p3_icc() -> bytes:
    tags = {sig: b"XYZ \0\0\0\0" + b"".join(_fixed(v) for v in xyz) for sig, xyz in COLORANTS.items()}
    curve = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(_fixed(v) for v in SRGB_CURVE)
    tags |= {b"rTRC": curve, b"gTRC": curve, b"bTRC": curve}
    tags[b"desc"] = (
        b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", 20, 28) + "Display P3".encode("utf-16-be")
    )
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for sig, body in tags.items():
        body += b"\0" * (-len(body) % 4)  # tags start on 4-byte boundaries
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(
        ">I4sI4s4s4s12s4s", size, b"\0" * 4, 0x04300000, b"mntr", b"RGB ", b"XYZ ", b"\0" * 12, b"acsp"
    )
    header += b"\0" * (68 - len(header)) + b"".join(_fixed(v) for v in COLORANTS[b"wtpt"]) + b"\0" * 48
    return header + struct.pack(">I", len(tags)) + table + data
