"""User-facing errors.

Everything a user can cause (a bad size, a corrupt file, an unknown preset, a blocked prompt) raises a
subclass of :class:`TesseraError` whose message says what to do. The CLI prints the message without a
traceback and exits non-zero; the API maps it to an OpenAI-style error body with a 4xx status.
"""


class TesseraError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code = 1
    http_status = 400


class ConfigError(TesseraError, ValueError):
    """A configuration value (dataclass field, CLI option, file setting) is out of range or malformed."""


class InvalidInputError(TesseraError, ValueError):
    """An argument or request is malformed (bad size, frame count, prompt, shape of an array)."""


class MediaError(TesseraError):
    """A media file is missing, empty, corrupt, truncated, of an unsupported kind, or too large."""


class NotFoundError(TesseraError):
    """A named thing (model folder, preset, video id, dataset) does not exist."""

    http_status = 404


class BlockedPromptError(TesseraError):
    """The safety policy refused a prompt or an upload."""
