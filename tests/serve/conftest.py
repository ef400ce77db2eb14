"""Serve fixtures: a tiny pipeline saved to disk, and the databases the suite runs against.

PostgreSQL is real: a throwaway cluster made with the server binaries (initdb/pg_ctl) in a temporary folder,
or the server at ``TESSERA_TEST_POSTGRES_URL``. Where neither exists the PostgreSQL tests are skipped, except
under CI, where ``.ci/run`` installs the server and a missing one is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tessera.models.autoencoder import Autoencoder
from tessera.models.dit import DiT
from tessera.models.text import TextEncoder, TextEncoderParams
from tessera.pipeline import PipelineConfig, TextToVideoPipeline


def tiny_pipeline(max_frames: int = 9) -> TextToVideoPipeline:
    torch.manual_seed(0)
    dit = DiT.from_preset("tiny")
    for p in dit.parameters():
        torch.nn.init.normal_(p, std=0.05)
    vae = Autoencoder.from_preset("tiny")
    torch.nn.init.zeros_(vae.decoder.conv_out.conv.weight)  # a random decoder draws saturated noise; this one gray
    config = PipelineConfig(
        sizes=("64x64", "112x64"),
        max_frames=max_frames,
        steps=2,
        guidance=2.0,
        text_encoder={"source": "toy:32"},
        domain="world",  # as the shipped model's: the studio says what its prompts should name ...
        recaption=True,  # ... and short prompts are re-captioned
    )
    return TextToVideoPipeline(dit, vae, TextEncoder(TextEncoderParams("toy:32")), config)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tiny_pipeline().save_pretrained(tmp_path_factory.mktemp("models") / "tessera-tiny")


@pytest.fixture(scope="session")
def long_model_dir(tmp_path_factory) -> Path:
    """The tiny model making 17 frames a call, so it has room for a loop (a 9-frame call has none)."""
    return tiny_pipeline(max_frames=17).save_pretrained(tmp_path_factory.mktemp("models") / "tessera-tiny-17")


@pytest.fixture(scope="session")
def c2pa_dir(tmp_path_factory):
    """A development signing chain made once for the session (keeps the user's config untouched)."""
    folder = tmp_path_factory.mktemp("c2pa")
    old = os.environ.get("TESSERA_CONFIG_DIR")
    os.environ["TESSERA_CONFIG_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("TESSERA_CONFIG_DIR", None)
    else:
        os.environ["TESSERA_CONFIG_DIR"] = old


def clip(frames: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (frames, 64, 64, 3), dtype=np.uint8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    for candidate in [os.environ.get("PG_BIN", "")] + sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server for the session: TESSERA_TEST_POSTGRES_URL, or a throwaway cluster."""
    if os.environ.get("TESSERA_TEST_POSTGRES_URL"):
        yield os.environ["TESSERA_TEST_POSTGRES_URL"]
        return
    bin_dir = _pg_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found; .ci/run installs the 'postgresql' package")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    # Not under pytest's folder: that one is private to root, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="tessera-pg-"))
    data = root / "data"
    port = free_port()
    # The server refuses to run as root; run it as the 'postgres' user the Debian package creates.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "tessera", "--auth=trust", "-E", "UTF8")
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-w",
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    url = f"postgresql+psycopg://tessera@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def reset_postgres(url: str) -> str:
    """A fresh database on the server for one test (tables are made by the app)."""
    import sqlalchemy

    name = f"t{time.time_ns()}"
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tessera.db'}"
    return reset_postgres(request.getfixturevalue("postgres_url"))


class Server:
    """``tessera serve`` in its own process (real uvicorn), restartable, killable."""

    def __init__(self, model_dir: Path, data_dir: Path, database_url: str, env: dict, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "tessera",
            "serve",
            "--model",
            str(model_dir),
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
        ]
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
        self.log = data_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> str:
        database = self.args[self.args.index("--database-url") + 1]
        env = {**self.env, "TESSERA_DATABASE_URL": database}
        return subprocess.run(["tessera", *args], env=env, check=True, capture_output=True, text=True).stdout

    def start(self, timeout: float = 60) -> Server:
        import httpx

        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            return self.proc.wait(timeout=60)
        return self.proc.returncode if self.proc else 0


@pytest.fixture
def server_factory(model_dir, c2pa_dir, tmp_path):
    servers: list[Server] = []

    def make(database_url: str, workers: int = 1, model: Path | None = None, **env) -> Server:
        server = Server(
            model or model_dir, tmp_path / "data", database_url, {"TESSERA_CONFIG_DIR": str(c2pa_dir), **env}, workers
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()
