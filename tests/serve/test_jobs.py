"""The job queue: atomic claims, leases, recovery, exactly-one completion, and surviving a killed server."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from tessera.serve.db import ApiKey, AuditEvent, Video, make_engine, sessions
from tessera.serve.jobs import JobStore, new_video_id


def _store(url: str, tmp_path, **kw) -> JobStore:
    make = sessions(make_engine(url))
    with make.begin() as s:
        s.add(ApiKey(id="key_a", name="a", secret_hash="h", prefix="tsk-a"))
    return JobStore(make, tmp_path / "videos", **kw)


def _queue(store: JobStore, n: int) -> list[str]:
    ids = []
    for i in range(n):
        vid = new_video_id()
        store.submit(
            Video(
                id=vid,
                key_id="key_a",
                model="m",
                prompt=f"p{i}",
                seconds="1",
                size="64x64",
                task="text-to-video",
                params={},
                created_at=time.time() + i * 1e-3,
            )
        )
        ids.append(vid)
    return ids


def test_concurrent_claims_take_each_job_exactly_once(database_url, tmp_path):
    store = _store(database_url, tmp_path)
    ids = _queue(store, 30)
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (job := store.claim(name)) is not None:
            with lock:
                claimed.append(job[0].id)

    threads = [threading.Thread(target=claimer, args=(f"h:1:{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every job once: none lost, none twice


def test_only_the_current_claim_completes_and_a_lost_lease_is_taken_back(database_url, tmp_path):
    store = _store(database_url, tmp_path, lease_seconds=0.2, max_attempts=2)
    (vid,) = _queue(store, 1)
    row, first = store.claim("otherhost:1:w")
    assert row.id == vid and row.attempts == 1
    time.sleep(0.3)  # the worker went silent past its lease
    assert store.recover() == [(vid, "queued")]
    row, second = store.claim("otherhost:2:w")
    assert row.attempts == 2
    assert not store.heartbeat(vid, first, 50)  # the old worker learns it lost the job
    assert not store.complete(vid, first, "x")  # ... and cannot complete it
    assert store.complete(vid, second, "y")
    assert not store.complete(vid, second, "y")  # nor can anyone complete it twice
    with store.sessions() as s:
        done = s.get(Video, vid)
    assert (done.status, done.assets, done.progress) == ("completed", "y", 100)


def test_a_job_interrupted_too_often_fails_with_a_reason(database_url, tmp_path):
    store = _store(database_url, tmp_path, lease_seconds=0.05, max_attempts=2)
    (vid,) = _queue(store, 1)
    for _ in range(2):
        assert store.claim("otherhost:1:w") is not None
        time.sleep(0.1)
        store.recover()
    with store.sessions() as s:
        row = s.get(Video, vid)
    assert row.status == "failed" and row.error_code == "worker_interrupted" and "2 times" in row.error_message
    assert store.claim("otherhost:1:w") is None


def test_a_jobs_end_queues_a_webhook_event_in_the_same_transaction(database_url, tmp_path):
    # Completed, failed by the worker, and failed by recovery: one delivery each for the endpoint that asks for it.
    from tessera.serve.db import WebhookDelivery
    from tessera.serve.webhooks import ATTEMPTS, WebhookStore

    store = _store(database_url, tmp_path, lease_seconds=0.05, max_attempts=1)
    hooks = WebhookStore(store.sessions)
    both = hooks.create("key_a", "both", "http://127.0.0.1:9/hook", ["video.completed", "video.failed"])
    hooks.create("key_a", "failures only", "http://127.0.0.1:9/other", ["video.failed"])
    done, failed, lost = _queue(store, 3)
    row, token = store.claim("h:1:w")
    assert row.id == done and store.complete(done, token, "assets")
    _, token = store.claim("h:1:w")
    assert store.fail(failed, token, "internal_error", "boom")
    store.claim("otherhost:1:w")
    time.sleep(0.1)
    assert store.recover() == [(lost, "failed")]
    with store.sessions() as s:
        rows = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    events = [
        (r.type, r.endpoint_id == both.id, r.payload.count(vid))
        for r, vid in zip(rows, [done, failed, failed, lost, lost], strict=True)
    ]
    assert sorted(events) == [
        ("video.completed", True, 1),
        ("video.failed", False, 1),
        ("video.failed", False, 1),
        ("video.failed", True, 1),
        ("video.failed", True, 1),
    ]
    # An endpoint that keeps refusing is retried with backoff, then given up on (and audited).
    delivery, _ = hooks.claim_due(limit=1)[0]
    assert hooks.claim_due(limit=100) and not any(d.id == delivery.id for d, _ in hooks.claim_due(limit=100))
    for attempt in range(1, ATTEMPTS + 1):
        outcome = hooks.finish(delivery, 500, "the endpoint answered 500", backoff=0.0)
        assert outcome == ("failed" if attempt == ATTEMPTS else "pending")
        delivery.attempts += 1
    with store.sessions() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "webhook.failed")) == 1


def test_a_delivery_to_a_host_the_operator_no_longer_allows_is_given_up_at_once(tmp_path):
    from tessera.serve.db import WebhookDelivery
    from tessera.serve.webhooks import Sender, WebhookStore

    store = _store(f"sqlite:///{tmp_path / 'db'}", tmp_path)
    hooks = WebhookStore(store.sessions)
    hooks.create("key_a", "local", "http://127.0.0.1:9/hook", ["video.completed"])  # allowed when registered
    (vid,) = _queue(store, 1)
    _, token = store.claim("h:1:w")
    store.complete(vid, token, "assets")
    sender = Sender(hooks, backoff=0.0, hosts="hooks.example.com")
    for delivery, endpoint in hooks.claim_due():
        sender.send(delivery, endpoint)  # not sent: nothing listens on port 9, and an attempt would be retried
    with store.sessions() as s:
        (row,) = s.scalars(select(WebhookDelivery)).all()
    assert (row.status, row.attempts, row.last_status) == (
        "failed",
        1,
        None,
    ) and "TESSERA_WEBHOOK_HOSTS" in row.last_error
    assert hooks.prune() == 0 and hooks.prune(older_than=-1) == 1  # finished rows go after a week


def test_a_send_abandoned_by_a_stopped_server_is_due_again(tmp_path):
    from tessera.serve.webhooks import WebhookStore

    store = _store(f"sqlite:///{tmp_path / 'db'}", tmp_path)
    hooks = WebhookStore(store.sessions)
    hooks.create("key_a", "a", "http://127.0.0.1:9/hook", ["video.completed"])
    (vid,) = _queue(store, 1)
    _, token = store.claim("h:1:w")
    store.complete(vid, token, "assets")
    ((taken, _),) = hooks.claim_due()  # taken to send; then the server stops
    assert hooks.claim_due() == [] and hooks.requeue_stale() == 0  # not yet: a send may still be under way
    assert hooks.requeue_stale(older_than=-1) == 1
    ((again, _),) = hooks.claim_due()
    assert again.event_id == taken.event_id and again.attempts == 2


def test_release_requeues_without_spending_an_attempt(tmp_path):
    store = _store(f"sqlite:///{tmp_path / 'db'}", tmp_path)
    (vid,) = _queue(store, 1)
    _, token = store.claim("h:1:w")
    assert store.release(vid, token)
    row, _ = store.claim("h:1:w")
    assert row.id == vid and row.attempts == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_server_loses_and_duplicates_nothing(backend, server_factory, tmp_path, request):
    from tests.serve.conftest import reset_postgres

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if backend == "postgresql":
        url = reset_postgres(request.getfixturevalue("postgres_url"))
    server = server_factory(url)
    secret = server.cli("keys", "create", "restart").strip().splitlines()[-1]
    server.start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    # 40 steps make each job last long enough to be caught mid-way.
    ids = [
        client.post("/v1/videos", json={"prompt": f"a red ball falls {i}", "seconds": "2", "steps": 40}).json()["id"]
        for i in range(4)
    ]
    deadline = time.monotonic() + 60
    while not any(v["status"] == "in_progress" and v["progress"] > 5 for v in (_video(client, i) for i in ids)):
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.05)
    server.kill()  # SIGKILL mid-job: no shutdown code runs
    server.start()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        states = [_video(client, i) for i in ids]
        if all(v["status"] in ("completed", "failed") for v in states):
            break
        time.sleep(0.2)
    assert [v["status"] for v in states] == ["completed"] * 4, states
    engine = make_engine(url)
    with sessions(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Video)) == 4
        completions = s.execute(
            select(AuditEvent.video_id, func.count())
            .where(AuditEvent.action == "job.completed")
            .group_by(AuditEvent.video_id)
        ).all()
        recovered = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "job.recovered"))
    assert sorted(completions) == sorted((i, 1) for i in ids)  # each job completed exactly once
    assert recovered >= 1  # the interrupted job was taken back, not forgotten
    engine.dispose()


def _video(client, vid):
    """The video's state, as a polite client reads it: after a 429 it waits the Retry-After the server gives. The
    polls below run several a second per job, which a slow machine keeps up for longer than the default key rate
    (120 a minute) allows."""
    while (response := client.get(f"/v1/videos/{vid}")).status_code == 429:
        time.sleep(float(response.headers["Retry-After"]))
    response.raise_for_status()
    return response.json()


def _wait_all(client, ids, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [_video(client, i) for i in ids]
        if all(v["status"] in ("completed", "failed") for v in states):
            return states
        time.sleep(0.2)
    raise AssertionError(f"not finished: {states}")


def test_a_worker_stopped_while_it_loads_its_model_exits_cleanly(server_factory, postgres_url, tmp_path):
    """SIGTERM during the model's load (as when a fleet is scaled down right after a start) is a clean stop."""
    import subprocess

    from tests.serve.conftest import reset_postgres

    url = reset_postgres(postgres_url)
    server = server_factory(url, workers=0)  # not started: only its environment and model are used
    env = {**server.env, "TESSERA_DATABASE_URL": url, "TESSERA_DATA_DIR": str(tmp_path / "data")}
    model = server.args[server.args.index("--model") + 1]
    log = tmp_path / "worker.log"
    with open(log, "w") as err:
        worker = subprocess.Popen(
            ["tessera", "worker", "--model", model], env=env, stdout=subprocess.DEVNULL, stderr=err
        )
    deadline = time.monotonic() + 60
    while "loading the model" not in log.read_text():
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.005)
    worker.terminate()
    assert worker.wait(timeout=60) == 0, log.read_text()


def test_separate_worker_processes_share_a_postgresql_queue(server_factory, postgres_url, tmp_path, c2pa_dir):
    import subprocess

    from tests.serve.conftest import reset_postgres

    url = reset_postgres(postgres_url)
    server = server_factory(url, workers=0)  # this server only queues
    secret = server.cli("keys", "create", "fleet").strip().splitlines()[-1]
    server.start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert client.get("/readyz").json()["checks"]["workers"].startswith("external")
    ids = [
        client.post("/v1/videos", json={"prompt": f"a blue ball rolls {i}", "seconds": "1"}).json()["id"]
        for i in range(6)
    ]
    env = {**server.env, "TESSERA_DATABASE_URL": url, "TESSERA_DATA_DIR": str(tmp_path / "data")}
    model = server.args[server.args.index("--model") + 1]
    workers = [
        subprocess.Popen(
            ["tessera", "worker", "--model", model],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"worker{i}.log", "w"),
        )
        for i in range(2)
    ]
    try:
        states = _wait_all(client, ids)
    finally:
        for w in workers:
            w.terminate()
        codes = [w.wait(timeout=60) for w in workers]
    assert [v["status"] for v in states] == ["completed"] * 6
    assert codes == [0, 0]  # SIGTERM: each worker finished its job and stopped cleanly
    with sessions(make_engine(url))() as s:
        claims = s.execute(select(Video.id, Video.attempts)).all()
        by_worker = s.execute(select(AuditEvent.detail).where(AuditEvent.action == "job.completed")).scalars().all()
    assert all(attempts == 1 for _, attempts in claims)
    pids = {d["worker"].split(":")[1] for d in by_worker}
    assert len(by_worker) == 6 and pids <= {str(w.pid) for w in workers} and str(server.proc.pid) not in pids


def test_sigterm_requeues_a_running_job_that_cannot_finish_in_the_grace_period(server_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    server = server_factory(url, TESSERA_SHUTDOWN_GRACE="0")
    secret = server.cli("keys", "create", "graceful").strip().splitlines()[-1]
    server.start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    vid = client.post("/v1/videos", json={"prompt": "a red ball falls", "seconds": "2", "steps": 80}).json()["id"]
    deadline = time.monotonic() + 60
    while _video(client, vid)["progress"] < 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.stop()
    with sessions(make_engine(url))() as s:
        row = s.get(Video, vid)
    assert (row.status, row.attempts, row.claim) == ("queued", 0, None)  # given back, attempt not spent
    server.start()
    assert _wait_all(client, [vid], timeout=300)[0]["status"] == "completed"


def test_metrics_report_queue_depth_and_outcomes(server_factory, tmp_path):
    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}")
    secret = server.cli("keys", "create", "metrics").strip().splitlines()[-1]
    server.start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    vid = client.post("/v1/videos", json={"prompt": "a red ball falls", "seconds": "1"}).json()["id"]
    _wait_all(client, [vid])
    text = httpx.get(server.url + "/metrics").text
    assert 'tessera_jobs_by_status{status="completed"} 1.0' in text
    assert 'tessera_jobs_total{outcome="completed"} 1.0' in text
    assert "tessera_job_seconds_count 1.0" in text
    assert 'tessera_http_requests_total{method="POST",route="/v1/videos",status="200"} 1.0' in text


def test_expired_videos_leave_listings_and_disk(tmp_path):
    store = _store(f"sqlite:///{tmp_path / 'db'}", tmp_path)
    old, fresh = _queue(store, 2)
    for vid, expires in ((old, time.time() - 1), (fresh, time.time() + 3600)):
        _, token = store.claim("h:1:w")
        (tmp_path / "videos" / vid / "1-x").mkdir(parents=True)
        assert store.complete(vid, token, f"{vid}/1-x", expires_at=expires)
    assert store.expire() == [old]
    assert not (tmp_path / "videos" / old).exists() and (tmp_path / "videos" / fresh).exists()
    assert [v.id for v in store.list("key_a", None, 10, "asc")[0]] == [fresh]


def test_a_database_that_cannot_be_opened_is_one_clear_error(tmp_path):
    from tessera.errors import ConfigError

    # Nothing listens on port 1: refused at once. The password stays out of the message.
    with pytest.raises(ConfigError, match=r"cannot open the database at postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"):
        make_engine("postgresql://u:secret@127.0.0.1:1/x")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot make the folder of the database"):
        make_engine(f"sqlite:///{tmp_path / 'file' / 'x.db'}")
