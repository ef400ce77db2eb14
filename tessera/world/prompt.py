"""Read a world-style prompt or caption back into structured attributes.

The inverse of :mod:`tessera.world.caption`: it recognises the same synonym tables, so it is used to turn
a user's prompt into scene constraints (``tessera world sample "..."``) and, in the benchmark, to check a
generated clip against what its prompt asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tessera.world.caption import BACKGROUND_WORDS, COLOUR_WORDS, SHAPE_WORDS, SIZE_WORDS

# Motion keywords, checked in this order (the first hit wins, so specific verbs come before general ones).
MOTION_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("occlude", ("behind", "pillar", "reappear", "emerges", "occlud", "passes behind")),
    ("collide", ("collide", "colliding", "collision", "crash", "hits", "toward each other", "into each other")),
    ("throw", ("thrown", "throw", "toss", "launch", " arc", "projectile", "through the air", "flies", "flying")),
    # A user's words too, not only the captions': "sliding" and "rolling" hold no "slide" (a ball that slides
    # along the floor rolls), "bouncing" no "bounce".
    ("slide", ("slide", "slides", "sliding", "skid", "roll", "along the floor", "friction", "push", "kick", "shove")),
    ("drift", ("drift", "float", "glide", "steady speed", "zero gravity", "off the walls")),
    ("fall", ("fall", "drop", "bounce", "bouncing", "lands", "landing", "tumbl")),
    ("rest", ("rest", "sits", "still", "stays", "motionless")),
]
DIRECTION_PATTERNS: list[tuple[str, str]] = [
    ("right", r"from the left"),  # "rolls in from the left" moves right
    ("left", r"from the right"),
    ("up-left", r"up and (to the )?left|upper left"),
    ("up-right", r"up and (to the )?right|upper right"),
    ("down-left", r"down and (to the )?left|lower left"),
    ("down-right", r"down and (to the )?right|lower right"),
    ("left", r"\bleft(wards)?\b"),
    ("right", r"\bright(wards)?\b"),
    ("up", r"\bupwards?\b"),
    ("down", r"\bdownwards?\b"),
    # A user's "moving up", "drifts down" (not "falls down": a fall has no direction to ask for)
    ("up", r"\b(?:moves?|moving|goes|going|rises|rising|floats?|floating|drifts?|drifting|glides?|gliding) up\b"),
    ("down", r"\b(?:moves?|moving|goes|going|floats?|floating|drifts?|drifting|glides?|gliding) down\b"),
]
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}


@dataclass
class ObjectAttrs:
    colour: str | None = None
    shape: str | None = None
    size: str | None = None


@dataclass
class PromptSpec:
    objects: list[ObjectAttrs] = field(default_factory=list)
    motion: str | None = None
    direction: str | None = None
    background: str | None = None


def _alternation(table: dict[str, tuple[str, ...]]) -> tuple[str, dict[str, str]]:
    lookup = {w: key for key, words in table.items() for w in words}
    words = sorted(lookup, key=len, reverse=True)  # longest first: "triangular block" before "block"
    return "|".join(re.escape(w) for w in words), lookup


_SIZE_RE, _SIZE = _alternation(SIZE_WORDS)
_COLOUR_RE, _COLOUR = _alternation(COLOUR_WORDS)
_SHAPE_RE, _SHAPE = _alternation(
    {
        k: v + tuple(w + ("es" if w.endswith("x") else "s") for w in v) + ("sphere", "balls") * (k == "circle")
        for k, v in SHAPE_WORDS.items()
    }
)
# The colour may be left out: a user writes "a ball falls" and "two boxes collide" (the world's captions always
# give one). A plural shape with no number ("balls fall") reads as two.
_OBJECT = re.compile(
    rf"\b(?:(?P<num>a|an|one|two|three|[123])\s+)?(?:(?P<size>{_SIZE_RE})\s+)?(?:(?P<colour>{_COLOUR_RE})\s+)?"
    rf"(?P<shape>{_SHAPE_RE})\b"
)
_PLURALS = frozenset(w for w in _SHAPE if w.endswith("s") and w[:-1] in _SHAPE or w.endswith("xes"))


# A count the object pattern does not read ("12 green squares", "several red balls"): the prompt asks for more
# objects than parse_prompt finds (a scene holds one to three), or none.
_COUNT_WORDS = (
    r"0|[4-9]|[1-9]\d+|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|(?:thir|four|fif|six|seven|eigh|nine)teen|(?:twen|thir|for|fif|six|seven|eigh|nine)ty"
    r"|hundreds? of|thousands? of|a dozen|dozens of|several|many|some|a few|few|multiple|numerous|countless"
    r"|lots of|a lot of|a bunch of|a pile of"
)
_UNREAD_COUNT = re.compile(rf"\b(?P<count>{_COUNT_WORDS})\s+(?:(?:{_SIZE_RE}|{_COLOUR_RE})\s+)*(?:{_SHAPE_RE})\b")


def unread_count(text: str) -> str | None:
    """The words of a count :func:`parse_prompt` does not read, if the text has one (else None)."""
    low = " ".join(text.lower().split())
    return m[0] if (m := _UNREAD_COUNT.search(low)) else None


def at_most_three(text: str) -> str:
    """``text`` with each count beyond a scene's reach made the most it holds: "many balls" and "twelve balls"
    become "three balls" (what re-captioning asks the world for; a plural alone would read as two). "0 balls" is
    left: no scene is empty."""
    low = " ".join(text.lower().split())
    return _UNREAD_COUNT.sub(lambda m: m[0] if m["count"] == "0" else "three" + m[0][len(m["count"]) :], low)


# A backdrop in a user's words ("on a blue background", "against a grey wall"): the nearest of the world's four.
_BACKDROP = re.compile(
    r"\b(?:on|against|in front of)\s+(?:a|an|the)?\s*(?:(?:dark|deep)\s+)?"
    r"(?P<colour>black|gr[ae]y|charcoal|navy|blue|green)\s+(?:background|backdrop|sky|wall|room|screen)\b"
)
_BACKDROP_OF = {"black": "black", "gray": "charcoal", "grey": "charcoal", "charcoal": "charcoal", "navy": "navy",
                "blue": "navy", "green": "dark green"}  # fmt: skip
_COLOUR_WORD = re.compile(rf"\b(?:{_COLOUR_RE})\b")
_SHAPE_WORD = re.compile(rf"\b(?:{_SHAPE_RE})\b")


def named(text: str) -> tuple[set[str], set[str]]:
    """The colours and shapes a text names anywhere, also outside an object phrase ("a huge ball", "a red one")."""
    low = _BACKDROP.sub(" ", text.lower())  # "on a blue background" names no blue object
    return {_COLOUR[w] for w in _COLOUR_WORD.findall(low)}, {_SHAPE[w] for w in _SHAPE_WORD.findall(low)}


def outside_world(text: str) -> str | None:
    """A note for a prompt that names nothing of the physics world (no shape, colour, motion, direction or
    background), for a model trained on it alone; None when it names something."""
    if parse_prompt(text) != PromptSpec() or any(named(text)):  # "the ball keeps rolling" is the world's
        return None
    return (
        f"this model knows only the physics world, and {text[:80]!r} names nothing of it, so expect a world scene; "
        "name a ball, square or triangle, its colour and what it does, e.g. 'a red ball falls and bounces'"
    )


def parse_prompt(text: str) -> PromptSpec:
    """Extract objects (colour, shape, size), motion, direction and background from free text."""
    low = " ".join(text.lower().replace("-", " - ").split()).replace(" - ", "-")
    spec = PromptSpec()
    for m in _OBJECT.finditer(low):
        count = _NUMBERS[m["num"]] if m["num"] else 2 if m["shape"] in _PLURALS else 1
        colour = _COLOUR[m["colour"]] if m["colour"] else None
        for _ in range(count):
            spec.objects.append(ObjectAttrs(colour, _SHAPE[m["shape"]], _SIZE.get(m["size"] or "")))
    for motion, words in MOTION_WORDS:
        if any(w in low for w in words):
            spec.motion = motion
            break
    for direction, pattern in DIRECTION_PATTERNS:
        if re.search(pattern, low):
            spec.direction = direction
            break
    if spec.motion is None and spec.direction not in (None, "left", "right"):
        spec.motion = "drift"  # up, down or a diagonal with no motion named: only a drift goes that way
    for bg, phrases in BACKGROUND_WORDS.items():
        if any(p in low for p in phrases):
            spec.background = bg
            break
    else:
        if m := _BACKDROP.search(low):
            spec.background = _BACKDROP_OF[m["colour"]]
    return spec
