"""The durable job queue: videos are rows; workers claim them atomically and hold them by a lease.

A claim is a compare-and-set: a worker owns a job while the row's ``claim`` is its token. Progress renews the
lease; a job whose lease ran out (a killed worker, a lost host) is taken back by ``recover`` and queued again,
up to ``max_attempts``, then failed with a reason. Only the current claim can complete a job, so a job never
completes twice even if a worker that was presumed dead comes back.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import time
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from tessera.errors import NotFoundError
from tessera.serve.db import AuditEvent, Video, page, readers
from tessera.serve.webhooks import enqueue

STATUSES = ("queued", "in_progress", "completed", "failed")
HOST = socket.gethostname()


def new_video_id() -> str:
    return "video_" + secrets.token_hex(16)


def worker_name(label: str = "worker") -> str:
    return f"{HOST}:{os.getpid()}:{label}"


def _pid_dead(claim: str) -> bool:
    """Whether a claim was made by a process on this host that no longer runs (so no need to wait its lease)."""
    host, _, rest = claim.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobStore:
    def __init__(self, sessions: sessionmaker, storage: Path, max_attempts: int = 3, lease_seconds: float = 60.0):
        self.sessions, self.readers = sessions, readers(sessions)
        self.storage = Path(storage)
        # Every key's videos: a folder made here is its owner's alone. After the engine, which has made a SQLite
        # file's folder (the default data folder, around this one) the same way.
        self.storage.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds

    # -- the API side ----------------------------------------------------------------------------------------
    def submit(self, video: Video) -> Video:
        with self.sessions.begin() as s:
            s.add(video)
        return video

    def get(self, key_id: str, video_id: str) -> Video:
        with self.readers() as s:
            row = s.get(Video, video_id)
        if row is None or row.deleted or row.key_id != key_id:
            # Another key's video is reported exactly like a missing one: ids are not an oracle.
            raise NotFoundError(f"no video with id {video_id!r}")
        return row

    def list(self, key_id: str, after: str | None, limit: int, order: str) -> tuple[list[Video], bool]:
        with self.readers() as s:
            # Images (POST /v1/images/generations) are answered and deleted, not listed among videos.
            query = select(Video).where(Video.key_id == key_id, Video.deleted.is_(False), Video.task != "text-to-image")
            anchor = s.get(Video, after) if after else None
            if after and (anchor is None or anchor.key_id != key_id):
                raise NotFoundError(f"no video with id {after!r} to list after")
            return page(s, query, Video, anchor, limit, ascending=order == "asc")

    def delete(self, key_id: str, video_id: str) -> None:
        row = self.get(key_id, video_id)
        with self.sessions.begin() as s:
            s.execute(update(Video).where(Video.id == row.id).values(deleted=True, claim=None))
        shutil.rmtree(self.storage / row.id, ignore_errors=True)

    def counts(self) -> dict[str, int]:
        with self.readers() as s:
            rows = s.execute(select(Video.status, func.count()).where(Video.deleted.is_(False)).group_by(Video.status))
            found = dict(rows.all())
        return {status: int(found.get(status, 0)) for status in STATUSES}

    def audit(self, action: str, key_id: str | None = None, video_id: str | None = None, **detail) -> None:
        with self.sessions.begin() as s:
            s.add(AuditEvent(action=action, key_id=key_id, video_id=video_id, detail=detail))

    # -- the worker side -------------------------------------------------------------------------------------
    def claim(self, worker: str) -> tuple[Video, str] | None:
        """The oldest queued job, now owned by ``worker`` (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
        token = f"{worker}:{secrets.token_hex(6)}"
        with self.sessions.begin() as s:
            query = (
                select(Video)
                .where(Video.status == "queued", Video.deleted.is_(False))
                .order_by(Video.created_at, Video.id)
                .limit(1)
                .with_for_update(skip_locked=True)  # SQLite: BEGIN IMMEDIATE already serialises claims
            )
            row = s.scalar(query)
            if row is None:
                return None
            now = time.time()
            row.status, row.claim, row.attempts = "in_progress", token, row.attempts + 1
            row.started_at, row.lease_until, row.progress = row.started_at or now, now + self.lease_seconds, 0
        return row, token

    def _owned(self, video_id: str, token: str):
        return update(Video).where(Video.id == video_id, Video.claim == token, Video.status == "in_progress")

    def heartbeat(self, video_id: str, token: str, progress: int) -> bool:
        """Record progress and renew the lease; False when the job is no longer ours (deleted, taken back)."""
        with self.sessions.begin() as s:
            values = {"progress": max(0, min(99, int(progress))), "lease_until": time.time() + self.lease_seconds}
            return s.execute(self._owned(video_id, token).values(**values)).rowcount == 1

    def complete(
        self, video_id: str, token: str, assets: str, expires_at: float | None = None, params: dict | None = None
    ) -> bool:
        """Mark a claimed job done; ``params`` replaces the job's parameters (the worker adds what it learned)."""
        with self.sessions.begin() as s:
            values = dict(
                status="completed",
                progress=100,
                completed_at=time.time(),
                assets=assets,
                claim=None,
                lease_until=None,
                expires_at=expires_at,
            )
            if params is not None:
                values["params"] = params
            done = s.execute(self._owned(video_id, token).values(**values)).rowcount == 1
            if done:
                enqueue(s, video_id, "video.completed")
            return done

    def fail(self, video_id: str, token: str, code: str, message: str) -> bool:
        with self.sessions.begin() as s:
            values = dict(
                status="failed",
                completed_at=time.time(),
                error_code=code,
                error_message=message[:2000],
                claim=None,
                lease_until=None,
            )
            failed = s.execute(self._owned(video_id, token).values(**values)).rowcount == 1
            if failed:
                enqueue(s, video_id, "video.failed")
            return failed

    def release(self, video_id: str, token: str) -> bool:
        """Give a job back unfinished (graceful shutdown): queued again, and the attempt is not counted."""
        with self.sessions.begin() as s:
            values = dict(status="queued", progress=0, claim=None, lease_until=None, attempts=Video.attempts - 1)
            return s.execute(self._owned(video_id, token).values(**values)).rowcount == 1

    def expire(self) -> list[str]:
        """Delete videos whose ``expires_at`` has passed (retention): the row leaves listings, the files go."""
        with self.sessions.begin() as s:
            rows = s.scalars(
                select(Video)
                .where(Video.expires_at.is_not(None), Video.expires_at < time.time(), Video.deleted.is_(False))
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.deleted = True
                s.add(AuditEvent(action="video.expired", key_id=row.key_id, video_id=row.id, detail={}))
            gone = [row.id for row in rows]
        for video_id in gone:
            shutil.rmtree(self.storage / video_id, ignore_errors=True)
        return gone

    def recover(self) -> list[tuple[str, str]]:
        """Take back jobs whose worker died: requeue them, or fail them after ``max_attempts``."""
        now = time.time()
        changed = []
        with self.sessions.begin() as s:
            rows = s.scalars(select(Video).where(Video.status == "in_progress").with_for_update(skip_locked=True)).all()
            for row in rows:
                if not ((row.lease_until or 0) < now or (row.claim and _pid_dead(row.claim))):
                    continue
                if row.deleted:
                    row.status, row.claim = "failed", None
                    continue
                if row.attempts >= self.max_attempts:
                    row.status, row.completed_at = "failed", now
                    row.error_code = "worker_interrupted"
                    row.error_message = (
                        f"generation was interrupted {row.attempts} times (worker stopped or lost); "
                        "submit the request again"
                    )
                    changed.append((row.id, "failed"))
                    enqueue(s, row.id, "video.failed")
                else:
                    row.status, row.progress = "queued", 0
                    changed.append((row.id, "queued"))
                row.claim, row.lease_until = None, None
            for video_id, status in changed:
                s.add(AuditEvent(action="job.recovered", video_id=video_id, detail={"now": status}))
        return changed
