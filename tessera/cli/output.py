"""Where a command will write, checked before it does any work.

Why: a command that finds out only when it saves that it cannot (a read-only folder, a folder where a file was
meant, a format it does not write) has wasted its run, and the ``OSError`` traceback says less than these do.
Nothing is created here: the nearest existing folder is tried with a temporary file that is gone at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tessera.errors import InvalidInputError


def check_output(path: Path, suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` is a file the command can write: one of ``suffixes`` (when given), not a folder, in a folder
    that exists or can be made and takes new files."""
    if path.is_dir():  # before the suffix: a folder has none, and "unsupported format ''" would mislead
        example = path / ("out" + (suffixes[0] if suffixes else path.suffix))
        raise InvalidInputError(f"{path} is a folder; give a file name, e.g. {example}")
    if suffixes and not path.suffix:
        raise InvalidInputError(
            f"{path} has no extension to say what to write; use {', '.join(suffixes)}, e.g. {path}{suffixes[0]}"
        )
    if suffixes and path.suffix.lower() not in suffixes:
        raise InvalidInputError(f"{path}: unsupported output format {path.suffix!r}; use {', '.join(suffixes)}")
    _check_folder(path.parent)
    return path


def check_output_folder(path: Path) -> Path:
    """``path`` is a folder the command can fill: not a file, and it exists or can be made and takes files."""
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{path} is a file; give a folder for the output")
    _check_folder(path)
    return path


def _check_folder(folder: Path) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInputError(f"cannot make the folder {folder}: {existing} is a file; choose another path")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise InvalidInputError(
            f"cannot write in {existing} ({e.strerror or e}); choose a folder you can write to"
        ) from None
