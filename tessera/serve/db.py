"""The job store's tables (SQLAlchemy): SQLite by default, PostgreSQL for a fleet of workers."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from tessera.errors import ConfigError


class Base(DeclarativeBase):
    pass


def now() -> float:
    return time.time()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # key_<hex>, public
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the secret; never the secret
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, so a user can tell keys apart
    created_at: Mapped[float] = mapped_column(Float, default=now)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # video_<hex>
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, in_progress, completed, failed
    progress: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    seconds: Mapped[str] = mapped_column(String(8))
    size: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(32))  # text-to-video, image-to-video, remix, extend, edit, storyboard
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # seed, strength, source ids, input files, shots
    remixed_from_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(120), nullable=True)  # worker:token of the current attempt
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    assets: Mapped[str | None] = mapped_column(String(300), nullable=True)  # folder, relative to storage
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_videos_status_created", "status", "created_at"),)


class WebhookEndpoint(Base):
    """Where a key's video events are sent (OpenAI's webhook endpoints). The signing secret is kept as it is, not
    hashed like a key's: every delivery is signed with it."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # we_<hex>
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))  # whsec_<base64>
    created_at: Mapped[float] = mapped_column(Float, default=now)
    updated_at: Mapped[float] = mapped_column(Float, default=now)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDelivery(Base):
    """One event for one endpoint, written with the change it reports (so none is lost to a crash), then sent
    and retried by the server's sender until the endpoint answers 2xx or the attempts run out."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40))  # evt_<hex>: the webhook-id header, the same on every retry
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))  # video.completed, video.failed
    payload: Mapped[str] = mapped_column(Text)  # the body, fixed once so every attempt sends the same bytes
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float, default=now)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # when a sender took it to send
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the endpoint's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)

    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_at"),)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, default=now, index=True)
    key_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(40))  # request, moderation, delivery, job.completed, ...
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


def page(session, query, table, anchor, limit: int, ascending: bool = False) -> tuple[list, bool]:
    """One cursor page of ``query``'s rows of ``table`` in (created_at, id) order, newest first unless ``ascending``:
    those after ``anchor`` (the previous page's last row; None for the first page), and whether more follow."""
    if anchor is not None:
        at, row_id = anchor.created_at, anchor.id
        if ascending:
            query = query.where((table.created_at > at) | ((table.created_at == at) & (table.id > row_id)))
        else:
            query = query.where((table.created_at < at) | ((table.created_at == at) & (table.id < row_id)))
    keys = (table.created_at, table.id)
    rows = list(session.scalars(query.order_by(*(k.asc() if ascending else k.desc() for k in keys)).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the tables (idempotent) and the SQLite file's folder."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            try:
                # A folder made here is its owner's alone (as PostgreSQL keeps its data directory): the file
                # holds every key's prompts and the key hashes. A folder that exists keeps the mode it has.
                Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(
                    f"cannot make the folder of the database {path} ({e.strerror}); give a writable path with "
                    "--database-url / --data-dir"
                ) from None
        # Several threads (API + workers) share the file; WAL lets readers run beside the one writer.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:
            # pysqlite's own implicit BEGIN would come too late for ours (SQLAlchemy's documented recipe).
            conn.isolation_level = None
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            # Writers take the lock at BEGIN, so a claim's read-then-update is atomic across processes;
            # readers (``readers()``) take none: under WAL they never wait for a worker's write.
            read_only = conn.get_execution_options().get("read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    elif url.startswith(("postgresql", "postgres")):
        if url.startswith("postgres://") or url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, the driver we install
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    else:
        raise ConfigError(f"database_url must be sqlite:///PATH or postgresql://..., got {url.split('://')[0]}://")
    try:
        Base.metadata.create_all(engine)
    except OperationalError as e:  # no server there, wrong credentials, an unwritable SQLite path
        reason = str(e.orig or e).strip().splitlines()[0]
        raise ConfigError(
            f"cannot open the database at {engine.url.render_as_string(hide_password=True)} ({reason}); "
            "start it, or give another with --database-url / TESSERA_DATABASE_URL"
        ) from None
    return engine


def sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def readers(make: sessionmaker) -> sessionmaker:
    """Sessions for reads only, on the same engine: on SQLite they do not take the write lock."""
    return sessionmaker(make.kw["bind"].execution_options(read_only=True), expire_on_commit=False)
