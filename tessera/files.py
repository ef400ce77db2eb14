"""Files: written whole or not at all (a reader, or a crash, never sees half a video, model or config), a user's
text and JSON files read with errors that say what they should be, and the name a model folder goes by."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tessera.errors import ConfigError, InvalidInputError


def _umask() -> int:
    # Linux reports the umask without changing it; os.umask can only read it by setting it, which for a
    # moment gives files that other threads (the server's) create the wrong mode.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _mode_for(path: Path) -> int:
    """The mode ``path`` would get written in place: its own if it exists, else what the umask allows."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh name beside ``path`` (its folder is made); whatever the block writes there replaces
    ``path`` only if the block succeeds, and is removed if it fails.

    The finished file gets the mode an ordinary write would give it. Writers that go through a temporary
    file of their own create it readable by its owner only (safetensors since 0.8: its issue #782), and a
    rename keeps that, so videos and models came out unreadable to a web server or another account."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.part{path.suffix}")
    try:
        yield tmp
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def model_name(folder: str | os.PathLike) -> str:
    """The name a model folder goes by (in C2PA manifests, and the id API clients send): the folder's, or its run's
    for a training run's ``model/`` folder (runs/dit-s/model is "dit-s"; every run's would be "model")."""
    folder = Path(folder).resolve()
    return folder.parent.name if folder.name == "model" and folder.parent.name else folder.name


def read_json_object(path: str | os.PathLike, what: str) -> dict:
    """A JSON object file (a pipeline's or a model's config); ``what`` says what it should be. Not UTF-8, not
    JSON or not an object is a ConfigError naming the file (a list raised TypeError further on)."""
    import json

    try:
        data = json.loads(read_text(path, what, ConfigError))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e}); {what}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a JSON object, got {type(data).__name__}; {what}")
    return data


def read_text(path: str | os.PathLike, what: str, error: type[Exception] = InvalidInputError) -> str:
    """A UTF-8 text file a user gave; anything else (a video or a binary given by mistake, another encoding)
    raises ``error`` saying what ``path`` should be, where a bare read raised UnicodeDecodeError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path} is not a UTF-8 text file (byte {e.start} is not text); {what}") from None
