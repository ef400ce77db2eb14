"""``tessera serve``, ``tessera worker`` and ``tessera keys``: the API server, its workers and its keys."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)

DB = typer.Option(
    None,
    "--database-url",
    help="sqlite:///PATH or postgresql://... (default: TESSERA_DATABASE_URL or a SQLite file in TESSERA_DATA_DIR)",
)
DATA = typer.Option(
    None,
    "--data-dir",
    help="Folder for the SQLite file and video assets (default: TESSERA_DATA_DIR or ~/.local/share/tessera)",
)


def _settings(**overrides):
    from tessera.serve import Settings

    return Settings.from_env(**overrides)


def _logging(json_logs: bool) -> None:
    """Structured logs: one JSON object per line with --json-logs (for log shippers), else readable lines."""
    import json
    import time

    class Json(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            entry = {
                "ts": round(time.time(), 3),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                entry["exc"] = self.formatException(record.exc_info)
            return json.dumps(entry)

    handler = logging.StreamHandler()
    handler.setFormatter(Json() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("tessera")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def _check_listen(host: str, port: int) -> None:
    """Refuse an address the server cannot listen on before the model loads and a first key is made (uvicorn found
    out only after both, with a bind error under a studio link that led nowhere)."""
    import errno
    import socket

    from tessera.errors import ConfigError

    try:
        socket.create_server((host, port)).close()  # SO_REUSEADDR, as uvicorn binds
    except OSError as e:  # create_server reports a name it cannot resolve as an OSError too
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use (another server?); stop it, or choose another with --port"
            ) from None
        if e.errno == errno.EACCES:
            raise ConfigError(f"port {port} needs privileges this user lacks; choose one above 1023") from None
        reason = (e.strerror or str(e)).split(" (while attempting")[0]
        raise ConfigError(
            f"cannot listen on {host} ({reason}); give --host an address of this machine, e.g. 127.0.0.1 or 0.0.0.0"
        ) from None


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 to serve other hosts)"),
    port: int = typer.Option(8000, min=1, max=65535, help="Port"),
    model: Path | None = typer.Option(None, "--model", help="Pipeline folder (default: models/tessera-world-s)"),
    workers: int | None = typer.Option(None, help="In-process workers (default 1; 0 = run `tessera worker`s)"),
    database_url: str | None = DB,
    data_dir: Path | None = DATA,
    json_logs: bool = typer.Option(False, "--json-logs", help="One JSON object per log line"),
) -> None:
    """Serve the OpenAI-compatible Videos API and the web studio."""
    import uvicorn

    from tessera.serve import create_app

    _logging(json_logs)
    settings = _settings(model=model, workers=workers, database_url=database_url, data_dir=data_dir)
    _check_listen(host, port)
    app = create_app(settings)
    keys = app.state.tessera.keys
    if keys.count_active() == 0:
        # Like a notebook server's token: the first start makes a key so the studio works at once.
        info, secret = keys.create("first key (made by tessera serve)")
        # soft_wrap: a key broken over two lines cannot be copied
        console.print(
            f"[bold]No API keys yet: made {info.id}.[/] Use it as 'Authorization: Bearer {secret}'", soft_wrap=True
        )
        console.print(f"Studio: http://{host}:{port}/#key={secret}", soft_wrap=True)
    else:
        console.print(f"Studio: http://{host}:{port}/ (paste a key from `tessera keys create`)", soft_wrap=True)
    uvicorn.run(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=int(settings.shutdown_grace) + 15
    )


def worker_command(
    model: Path | None = typer.Option(None, "--model", help="Pipeline folder (default: models/tessera-world-s)"),
    database_url: str | None = DB,
    data_dir: Path | None = DATA,
    storage: Path | None = typer.Option(None, help="Asset folder shared with the server (default: DATA_DIR/videos)"),
    json_logs: bool = typer.Option(False, "--json-logs", help="One JSON object per log line"),
) -> None:
    """Run jobs from a shared queue (PostgreSQL) until stopped (Ctrl-C/SIGTERM finish or requeue the job)."""
    from tessera.serve.db import make_engine, sessions
    from tessera.serve.jobs import JobStore
    from tessera.serve.worker import Renderer, Worker

    _logging(json_logs)
    settings = _settings(model=model, database_url=database_url, data_dir=data_dir, storage=storage)
    store = JobStore(
        sessions(make_engine(settings.database_url)), settings.storage, settings.max_attempts, settings.lease_seconds
    )
    worker = Worker(settings, store, lambda: Renderer(settings), label="worker")
    # Handlers first: a SIGTERM while the model loads (seconds) must stop the worker cleanly, not kill it.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())
    worker.load()  # now: a worker that cannot load its model should fail at start
    console.print(f"worker {worker.name} running jobs from {settings.database_url.split('@')[-1]}")
    worker.run()


def _keys(database_url: str | None, data_dir: Path | None):
    """The key store of the server that has these options (a key made elsewhere would not open it)."""
    from tessera.serve.db import make_engine, sessions
    from tessera.serve.keys import KeyStore

    url = _settings(database_url=database_url, data_dir=data_dir).database_url
    return KeyStore(sessions(make_engine(url))), url.split("@")[-1]  # no password in what is printed


@keys_app.command("create")
def keys_create(
    name: str = typer.Argument(..., help="Who or what the key is for"),
    database_url: str | None = DB,
    data_dir: Path | None = DATA,
) -> None:
    """Make a key; its secret is printed once (only a hash is stored)."""
    store, where = _keys(database_url, data_dir)
    info, secret = store.create(name)
    console.print(f"created {info.id} ({info.name}) in {where}; the secret is shown only now:", soft_wrap=True)
    typer.echo(secret)


@keys_app.command("list")
def keys_list(database_url: str | None = DB, data_dir: Path | None = DATA) -> None:
    """Every key (never their secrets)."""
    import datetime

    table = Table("id", "name", "prefix", "created", "last used", "status")
    for k in _keys(database_url, data_dir)[0].list():

        def when(t):
            return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M") if t else "-"

        table.add_row(
            k.id,
            k.name,
            k.prefix + "...",
            when(k.created_at),
            when(k.last_used_at),
            "revoked" if k.revoked else "active",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (key_...) or prefix"),
    database_url: str | None = DB,
    data_dir: Path | None = DATA,
) -> None:
    """Revoke a key: it stops working at once."""
    info = _keys(database_url, data_dir)[0].revoke(key_id)
    console.print(f"revoked {info.id} ({info.name})")
