"""The prompt policy: allow or block, with the category, a score and a reason, for every prompt.

Layers, cheapest first: every reading of the prompt (normalisation defeats cheap obfuscation) goes through
the rules and the named-person detector; what they do not block goes to the learned classifier, which
also sees each scene of a multi-scene prompt on its own. Every decision is logged (without the prompt
text, only its length and a hash, so logs do not keep what people typed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tessera.errors import BlockedPromptError, ConfigError
from tessera.files import read_text
from tessera.safety.normalize import readings, segments
from tessera.safety.rules import CATEGORIES, match

log = logging.getLogger("tessera.safety")

# The acts classifier's blocks (tessera.safety.acts) come on top of the linear classifier's, so they are held to a
# higher bar than its 0.5: chosen by 4-fold cross-validation over its hand-written training prompts
# (docs/safety.md), the lowest that blocked at most 1 in 100 of the held-out everyday scenes.
ACTS_THRESHOLD = 0.9
# Below this it lifts the linear classifier's violence or self-harm block ("a nurse handing a patient their morning
# pills"): on the red-team sets seen in development it lifted 8 false blocks and no harmful prompt (at 0.1: 2
# harmful); on fresh sets 13 and 14, written after, 0 and 2 false blocks and no harmful prompt (docs/safety.md).
ACTS_LIFT = 0.05
DEFAULT_OFF = ("copyright",)  # an operator option: on for a public service, off for private use


SELF_HARM_HELP = (
    "If you are thinking about hurting yourself, you don't have to face it alone: https://findahelpline.com lists "
    "free, confidential helplines in your country, or call your local emergency number"
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    category: str | None
    score: float  # 0..1: how harmful the policy finds the prompt
    reason: str
    layer: str  # "rules", "classifier" or "none"

    def raise_if_blocked(self) -> None:
        if not self.allowed:
            message = (
                f"prompt blocked by the safety policy ({CATEGORIES[self.category]}); rephrase it without that content"
            )
            # Whoever types a suicide may be thinking of one: say where help is, as the large services do.
            if self.category == "self_harm":
                message += f". {SELF_HARM_HELP}"
            raise BlockedPromptError(message)


@dataclass
class Policy:
    categories: tuple[str, ...] = tuple(c for c in CATEGORIES if c not in DEFAULT_OFF)
    threshold: float = 0.5  # classifier probability of a harmful category that blocks
    use_classifier: bool = True
    extra_people: tuple[str, ...] = field(default_factory=tuple)
    # The acts classifier's blocks (tessera.safety.acts), an operator option: far more attacks and suicides told in
    # everyday words, and some everyday scenes with them (docs/safety.md). None: TESSERA_SAFETY_ACTS=1 or off.
    acts: bool | None = None
    acts_threshold: float = ACTS_THRESHOLD  # its probability that blocks what the linear classifier allowed
    acts_lift: float = ACTS_LIFT  # below it (violence and self-harm both), a linear-classifier block of them is lifted
    # Its lift of the linear classifier's violence and self-harm blocks it reads as neither: on by default, with or
    # without its blocks (docs/safety.md, "The lift").
    lift: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.categories) - set(CATEGORIES))
        if unknown:
            raise ConfigError(f"unknown safety categories {', '.join(unknown)}; known: {', '.join(CATEGORIES)}")
        for name in ("threshold", "acts_threshold", "acts_lift"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        self.categories = tuple(self.categories)
        if self.acts is None:
            self.acts = os.environ.get("TESSERA_SAFETY_ACTS", "") == "1"
        people = os.environ.get("TESSERA_SAFETY_PEOPLE")
        if people:
            if not Path(people).is_file():
                raise ConfigError(f"TESSERA_SAFETY_PEOPLE: {people} is not a file of names")
            text = read_text(people, "TESSERA_SAFETY_PEOPLE names a text file of names, one a line", ConfigError)
            names = [n.strip().lower() for n in text.splitlines() if n.strip()]
            self.extra_people = tuple(self.extra_people) + tuple(names)

    def check(self, prompt: str) -> Decision:
        return self.check_many([prompt])[0]

    def check_many(self, prompts: list[str]) -> list[Decision]:
        """Decide many prompts at once: rules one by one, then one batched classifier pass for the rest."""
        decisions: list[Decision | None] = []
        pending: dict[int, list[str]] = {}
        for i, prompt in enumerate(prompts):
            decision, candidates = self._rules(prompt)
            decisions.append(decision)
            if decision is None:
                pending[i] = candidates
        if pending:
            from tessera.safety.classifier import Classifier

            flat = [text for texts in pending.values() for text in texts]
            probs = Classifier.shipped().probabilities(flat)
            linear, start = {}, 0
            for i, texts in pending.items():
                linear[i] = probs[start : start + len(texts)]
                decisions[i] = self._classified(linear[i])
                start += len(texts)
            if self.acts or self.lift:
                self._acts(decisions, pending, linear)
        for prompt, decision in zip(prompts, decisions, strict=True):
            self._log(prompt, decision)
        return decisions

    def _acts(self, decisions: list[Decision], pending: dict[int, list[str]], linear: dict[int, np.ndarray]) -> None:
        """The acts classifier's second reading, for violence and self-harm shown as they happen
        (tessera.safety.acts), of what the rules allowed: it blocks what the linear classifier allowed and it reads
        as one of them, and lifts a linear-classifier block of one of them that it reads as neither. A block by the
        rules, or by the linear classifier in another category, stands."""
        from tessera.safety.acts import ACTS, ActsClassifier
        from tessera.safety.classifier import LABELS

        watched = [c for c in ACTS if c in self.categories]
        read = {
            i: texts
            for i, texts in pending.items()
            if (self.acts and decisions[i].allowed) or (self.lift and decisions[i].category in watched)
        }
        if not watched or not read:
            return
        columns = [LABELS.index(c) for c in watched]
        probs = ActsClassifier.shipped().probabilities([t for texts in read.values() for t in texts])[:, columns]
        start = 0
        for i, texts in read.items():
            rows = probs[start : start + len(texts)]
            start += len(texts)
            best = int(rows.max(axis=0).argmax())
            score = float(rows[:, best].max())
            if decisions[i].allowed and self.acts and score >= self.acts_threshold:
                category = watched[best]
                reason = f"the acts classifier reads it as {category} ({score:.2f})"
                decisions[i] = Decision(False, category, score, reason, "classifier")
            elif not decisions[i].allowed and self.lift and score < self.acts_lift:
                others = linear[i].copy()
                others[:, columns] = 0  # the linear classifier's other readings still decide
                decisions[i] = self._classified(others)
                if decisions[i].allowed:
                    reason = f"allowed: the acts classifier reads it as neither {' nor '.join(watched)} ({score:.2f})"
                    decisions[i] = Decision(True, None, score, reason, "classifier")

    def _log(self, prompt: str, decision: Decision) -> None:
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:12]
        log.info(
            "safety %s %s score=%.2f layer=%s prompt=%s (%d chars)",
            "allow" if decision.allowed else "block",
            decision.category or "-",
            decision.score,
            decision.layer,
            digest,
            len(prompt),
        )

    def _rules(self, prompt: str) -> tuple[Decision | None, list[str]]:
        """A decision by the rules, or None and the readings the classifier should see."""
        if not isinstance(prompt, str):
            raise ConfigError("prompt must be a string")
        texts = readings(prompt)
        for reading, loose in texts:
            for hit in match(reading, loose, self.extra_people):
                if hit.category in self.categories:
                    how = "as written" if reading == texts[0][0] else "after undoing obfuscation"
                    return Decision(False, hit.category, 1.0, f"matched a {hit.category} rule {how}", "rules"), []
        if not self.use_classifier:
            return Decision(True, None, 0.0, "no rule matched", "none"), []
        # Decoded readings that are gibberish (ROT13 or reversed ordinary text) tell the classifier nothing and
        # cost as much as the rest; only readings made mostly of known words are classified.
        candidates = [texts[0][0]] + [r for r, _ in texts[1:] if _readable(r)]
        candidates += [s for s in segments(texts[0][0]) if s != texts[0][0]]
        return None, candidates

    def _classified(self, probs) -> Decision:
        from tessera.safety.classifier import LABELS

        best_cat, best_p = None, 0.0
        for i, label in enumerate(LABELS):
            if label in self.categories and probs[:, i].max() > best_p:
                best_cat, best_p = label, float(probs[:, i].max())
        if best_cat is not None and best_p >= self.threshold:
            return Decision(
                False, best_cat, best_p, f"the classifier reads it as {best_cat} ({best_p:.2f})", "classifier"
            )
        return Decision(True, None, best_p, "allowed", "classifier")


def _readable(text: str) -> bool:
    from tessera.safety.classifier import vocabulary

    words = [w for w in re.findall(r"[a-z]+", text) if len(w) > 2]
    return bool(words) and sum(w in vocabulary() for w in words) >= 0.6 * len(words)


_DEFAULT: Policy | None = None


def default_policy() -> Policy:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Policy()
    return _DEFAULT


def check_prompt(prompt: str, policy: Policy | None = None) -> Decision:
    """Decide with the default policy (or ``policy``); raises nothing — see ``Decision.raise_if_blocked``."""
    return (policy or default_policy()).check(prompt)
