"""Normalisation that defeats cheap obfuscation: every prompt is checked in several readings.

``readings(text)`` returns the prompt as written plus what a filter-dodger hoped we would not read:
Unicode NFKC with homoglyphs folded to Latin, zero-width characters removed, leetspeak decoded, letters
spaced or dotted apart joined again, and base64 / ROT13 / reversed text decoded.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)

# Letters that look Latin in other scripts (Cyrillic, Greek, fullwidth is handled by NFKC).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ɡ": "g",
        "ӏ": "l",
        "ո": "n",
        "ս": "u",
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ϲ": "c",
        "ɑ": "a",
        "ℓ": "l",
        "ı": "i",
    }
)
LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)

_SPACED = re.compile(r"\b(?:[a-z][\s._\-*/\\]{1,3}){2,}[a-z]\b")  # "n u d e", "n.u.d.e", "n-u-d-e"
_B64 = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")


def basic(text: str) -> str:
    """NFKC, no zero-width characters, homoglyphs folded, lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(ZERO_WIDTH)
    text = text.lower().translate(HOMOGLYPHS)
    # Strip accents a dodger may add ("nüde"); the multilingual terms are matched on this accent-free form too.
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip()


def _join_spaced(text: str) -> str:
    return _SPACED.sub(lambda m: re.sub(r"[\s._\-*/\\]", "", m.group(0)), text)


def _decoded(text: str) -> list[str]:
    out = []
    for chunk in _B64.findall(text):
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if sum(c.isalpha() or c == " " for c in decoded) >= 0.8 * len(decoded):
            out.append(decoded)
    return out


def readings(text: str) -> list[tuple[str, bool]]:
    """The prompt's readings as (text, loose), the plain one first; ``loose`` readings had letters joined
    back together, so word boundaries in them mean nothing. Duplicates removed, order kept."""
    plain = basic(text)
    # Leetspeak only inside words that also hold letters, so "3 balls" stays "3 balls".
    leet = re.sub(
        r"\S+", lambda m: m.group(0).translate(LEET) if re.search(r"[a-z]", m.group(0)) else m.group(0), plain
    )
    joined = _join_spaced(leet)
    squeezed = re.sub(r"(?<=[a-z])[._*\-](?=[a-z])", "", joined)  # "n.ude", "nu-de"
    every = plain.translate(LEET)  # digits-only words too ("45" -> "as"), as a reading of its own
    candidates = [(plain, False), (leet, False), (joined, joined != leet), (squeezed, squeezed != leet)]
    candidates += [(every, False)]
    candidates += [(codecs.decode(plain, "rot13"), False), (plain[::-1], False)]
    decoded = _decoded(unicodedata.normalize("NFKC", text).translate(ZERO_WIDTH))
    candidates += [(basic(d), False) for d in decoded]
    seen, out = set(), []
    for reading, loose in candidates:
        # The plain reading is always there, even empty (a prompt of accents alone): callers read it first.
        if reading not in seen and (reading or not out):
            seen.add(reading)
            out.append((reading, loose))
    return out


def segments(text: str) -> list[str]:
    """A multi-scene prompt split into its scenes/sentences, so harm spread over scenes is seen per scene."""
    parts = re.split(r"(?:\bscene \d+\s*[:.-]|\bshot \d+\s*[:.-]|[.;\n]|\bthen\b)", text, flags=re.IGNORECASE)
    return [p.strip() for p in parts if len(p.strip()) > 3]
