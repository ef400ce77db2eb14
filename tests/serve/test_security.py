"""Access control and hostile input: every refusal is a 4xx with a clear OpenAI-style error, and the server
keeps serving afterwards."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from tessera.serve import Settings, create_app


@pytest.fixture
def app(model_dir, tmp_path, c2pa_dir):
    settings = Settings(
        data_dir=tmp_path,
        model=model_dir,
        rate_per_minute=30,
        daily_quota=3,
        max_request_bytes=200_000,
        max_prompt_chars=500,
    )
    return create_app(settings, start_workers=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def test_a_new_data_folder_is_its_owners_alone(model_dir, tmp_path, c2pa_dir):
    # It holds every key's prompts (the SQLite file) and videos; other accounts on the machine could read them.
    import stat

    tmp_path.chmod(0o755)
    create_app(Settings(data_dir=tmp_path / "data", model=model_dir), start_workers=False)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "data", tmp_path / "data" / "videos")}
    assert modes == {"data": 0o700, "videos": 0o700} and (tmp_path / "data" / "tessera.db").is_file()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # a folder that was there keeps its mode


def key(app, name="k") -> dict:
    _, secret = app.state.tessera.keys.create(name)
    return {"Authorization": f"Bearer {secret}"}


def error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["message"] and body["type"]
    if code:
        assert body["code"] == code
    return body


def test_no_key_wrong_key_revoked_key_are_401(app, client):
    assert "tessera keys create" in error(client.get("/v1/videos"), 401, "invalid_api_key")["message"]
    error(client.get("/v1/videos", headers={"Authorization": "Bearer tsk-wrong"}), 401, "invalid_api_key")
    error(client.get("/v1/videos", headers={"Authorization": "Basic abc"}), 401)
    headers = key(app)
    assert client.get("/v1/videos", headers=headers).status_code == 200
    key_id = app.state.tessera.keys.list()[-1].id
    app.state.tessera.keys.revoke(key_id)
    assert "revoked" in error(client.get("/v1/videos", headers=headers), 401)["message"]


def test_another_keys_video_is_404_everywhere(app, client):
    alice, bob = key(app, "alice"), key(app, "bob")
    vid = client.post("/v1/videos", json={"prompt": "a red ball falls"}, headers=alice).json()["id"]
    assert client.get(f"/v1/videos/{vid}", headers=alice).status_code == 200
    for method, path in [
        ("GET", f"/v1/videos/{vid}"),
        ("DELETE", f"/v1/videos/{vid}"),
        ("GET", f"/v1/videos/{vid}/content"),
        ("POST", f"/v1/videos/{vid}/remix"),
    ]:
        kwargs = {"json": {"prompt": "x"}} if method == "POST" else {}
        error(client.request(method, path, headers=bob, **kwargs), 404)
    assert client.get("/v1/videos", headers=bob).json()["data"] == []
    assert client.get(f"/v1/videos/{vid}", headers=alice).status_code == 200  # bob's delete did nothing


def test_another_keys_webhook_endpoint_is_404_and_an_operator_can_turn_webhooks_off(app, client, model_dir, tmp_path):
    alice, bob = key(app, "alice"), key(app, "bob")
    hook = {"name": "a", "url": "http://127.0.0.1:9/hook", "event_types": ["video.completed"]}
    made = client.post("/v1/webhook_endpoints", json=hook, headers=alice).json()
    assert (
        made["signing_secret"].startswith("whsec_")
        and "signing_secret" not in client.get(f"/v1/webhook_endpoints/{made['id']}", headers=alice).json()
    )
    for method, path in [
        ("GET", f"/v1/webhook_endpoints/{made['id']}"),
        ("POST", f"/v1/webhook_endpoints/{made['id']}"),
        ("DELETE", f"/v1/webhook_endpoints/{made['id']}"),
        ("POST", f"/v1/webhook_endpoints/{made['id']}/rotate_secret"),
    ]:
        error(client.request(method, path, headers=bob, json={"name": "b"}), 404)
    assert client.get("/v1/webhook_endpoints", headers=bob).json()["data"] == []
    # Paged newest first, as the videos are (one keyset paging for both).
    more = [client.post("/v1/webhook_endpoints", json={**hook, "name": n}, headers=alice).json()["id"] for n in "bc"]
    first = client.get("/v1/webhook_endpoints?limit=2", headers=alice).json()
    assert [e["id"] for e in first["data"]] == more[::-1] and first["has_more"]
    rest = client.get(f"/v1/webhook_endpoints?limit=2&after={first['last_id']}", headers=alice).json()
    assert [e["id"] for e in rest["data"]] == [made["id"]] and not rest["has_more"]
    error(
        client.post(f"/v1/webhook_endpoints/{made['id']}/test", json={"event": "x"}, headers=alice),
        400,
        "unknown_parameter",
    )
    error(
        client.post("/v1/webhook_endpoints", json={**hook, "secret": "mine"}, headers=alice), 400, "unknown_parameter"
    )
    off = create_app(Settings(data_dir=tmp_path / "off", model=model_dir, webhooks=False), start_workers=False)
    with TestClient(off) as c:
        refused = error(c.post("/v1/webhook_endpoints", json=hook, headers=key(off)), 400, "unsupported_feature")
        assert "TESSERA_WEBHOOKS=0" in refused["message"]
    # An operator may name the hosts webhooks may go to; anything else is refused by name.
    narrow = Settings(data_dir=tmp_path / "narrow", model=model_dir, webhook_hosts="hooks.example.com, *.example.org")
    some = create_app(narrow, start_workers=False)
    with TestClient(some) as c:
        headers = key(some)
        for url, allowed in (
            ("https://hooks.example.com/a", True),
            ("https://ci.example.org/a", True),
            ("https://example.org/a", False),
            ("http://127.0.0.1:9/hook", False),
            ("https://hooks.example.com.evil.net/a", False),
        ):
            response = c.post("/v1/webhook_endpoints", json={**hook, "url": url}, headers=headers)
            if allowed:
                assert response.status_code == 200, response.text
            else:
                assert "sends webhooks only to hooks.example.com, *.example.org" in error(response, 400)["message"]


def test_rate_limit_and_daily_quota_are_429_with_retry_after(app, client):
    headers = key(app)
    for _ in range(3):
        assert client.post("/v1/videos", json={"prompt": "a ball"}, headers=headers).status_code == 200
    over = client.post("/v1/videos", json={"prompt": "a ball"}, headers=headers)
    error(over, 429, "insufficient_quota")
    assert int(over.headers["retry-after"]) > 0
    statuses = [client.get("/v1/videos", headers=headers).status_code for _ in range(40)]
    assert 429 in statuses and statuses.index(429) >= 20  # the 30/min bucket ran out, not earlier
    limited = client.get("/v1/videos", headers=headers)
    error(limited, 429, "rate_limit_exceeded")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert client.get("/v1/videos", headers=key(app, "other")).status_code == 200  # other keys unaffected


@pytest.mark.parametrize(
    "body,param",
    [
        ({"prompt": "x" * 501}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "a ball", "size": "1920x1080"}, "size"),
        ({"prompt": "a ball", "seconds": "99"}, "seconds"),
        ({"prompt": "a ball", "seconds": "-1"}, "seconds"),
        ({"prompt": "a ball", "model": "gpt-9"}, "model"),
        ({"prompt": "a ball", "seed": "abc"}, "seed"),
        ({"prompt": "a ball", "steps": 10_000}, "steps"),
        ({"prompt": "a ball", "recaption": "maybe"}, "recaption"),
        (
            {"prompt": "a ball", "recaption": True, "input_reference": {"image_url": "data:image/png;base64,"}},
            "recaption",
        ),
        ({"prompt": "a ball", "input_reference": {"image_url": "https://example.com/x.png"}}, "input_reference"),
        ({"prompt": "a ball", "input_reference": {"image_url": "data:image/png;base64,!!!"}}, "input_reference"),
    ],
)
def test_bad_fields_name_the_field_and_what_is_allowed(app, client, body, param):
    got = error(client.post("/v1/videos", json=body, headers=key(app)), 400)
    assert got["param"] == param
    if param == "size":
        assert "64x64, 112x64" in got["message"]


def test_malformed_oversized_and_corrupt_bodies(app, client):
    headers = key(app)
    error(client.post("/v1/videos", content=b"{not json", headers={**headers, "Content-Type": "application/json"}), 400)
    error(client.post("/v1/videos", content=b"[1, 2]", headers={**headers, "Content-Type": "application/json"}), 400)
    error(client.post("/v1/videos", content=b"prompt", headers={**headers, "Content-Type": "text/plain"}), 400)
    error(
        client.post(
            "/v1/videos",
            content=b"--x\r\nbroken",
            headers={**headers, "Content-Type": "multipart/form-data; boundary=x"},
        ),
        400,
    )
    big = client.post(
        "/v1/videos",
        files={"input_reference": ("a.png", b"\0" * 300_000, "image/png")},
        data={"prompt": "a ball"},
        headers=headers,
    )
    error(big, 413, "request_too_large")
    corrupt = client.post(
        "/v1/videos",
        files={"input_reference": ("a.png", b"\x89PNG\r\n\x1a\nrubbish", "image/png")},
        data={"prompt": "a ball"},
        headers=headers,
    )
    assert error(corrupt, 400)["param"] == "input_reference"
    not_video = client.post(
        "/v1/videos/extensions",
        files={"video": ("a.mp4", b"\0" * 1000, "video/mp4")},
        data={"prompt": "go on", "seconds": "1"},
        headers=headers,
    )
    assert error(not_video, 400)["param"] == "video"
    assert client.get("/healthz").status_code == 200  # still serving


def test_a_real_image_upload_is_accepted_and_stored_as_png(app, client, tmp_path):
    from PIL import Image

    def upload(width: int, height: int):
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="JPEG")
        response = client.post(
            "/v1/videos",
            files={"input_reference": ("red.jpg", buffer.getvalue(), "image/jpeg")},
            data={"prompt": "a red ball falls", "seconds": "1"},
            headers=key(app),
        )
        assert response.status_code == 200, response.text
        stored = tmp_path / "videos" / response.json()["id"] / "inputs" / "reference.png"
        return Image.open(stored).size, response.json()["size"]

    # No size asked for: the model's nearest to the image's 4:3 (1.33 is nearer 1.75 than 1 in ratio).
    assert upload(80, 60) == ((80, 60), "112x64")
    # A photo is kept no larger than the model's sizes need (112x64 here): a 12 MP one was a 36 MB PNG, 1.4 s to
    # write while the request waited.
    assert upload(1600, 1200) == ((112, 84), "112x64")


def test_a_phone_heic_photo_upload_is_accepted_whole(app, client, tmp_path):
    import numpy as np
    from PIL import Image

    from tests.media.heic import gridded_heic

    photo = np.zeros((84, 112, 3), np.uint8)
    photo[:, 56:] = (30, 30, 200)  # the right half blue: the top-left tile alone has none of it
    response = client.post(
        "/v1/videos",
        files={"input_reference": ("IMG_0001.HEIC", gridded_heic(photo, tile=64), "image/heic")},
        data={"prompt": "a ball falls", "seconds": "1"},
        headers=key(app),
    )
    assert response.status_code == 200, response.text
    stored = np.asarray(Image.open(tmp_path / "videos" / response.json()["id"] / "inputs" / "reference.png"))
    assert stored.shape == (84, 112, 3) and stored[:, 60:, 2].mean() > 190


@pytest.mark.parametrize("size,expected", [(None, "112x64"), ("64x64", "64x64")])
def test_an_image_sets_the_size_unless_one_is_asked_for(app, client, size, expected):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (192, 108), (200, 30, 30)).save(buffer, format="PNG")  # 16:9
    data = {"prompt": "a red ball falls", "seconds": "1", **({"size": size} if size else {})}
    files = {"input_reference": ("wide.png", buffer.getvalue(), "image/png")}
    response = client.post("/v1/videos", files=files, data=data, headers=key(app))
    assert response.status_code == 200, response.text
    assert response.json()["size"] == expected


@pytest.mark.parametrize("bad", ["../../etc/passwd", "..%2F..%2Fetc", "video_%00", "video_" + "g" * 32, "x" * 5000])
def test_path_tricks_in_ids_are_404(app, client, bad):
    headers = key(app)
    for path in (f"/v1/videos/{bad}", f"/v1/videos/{bad}/content"):
        assert client.get(path, headers=headers).status_code == 404
    assert client.get("/v1/videos", params={"after": bad}, headers=headers).status_code in (400, 404)
    assert client.get("/studio/../../pyproject.toml").status_code == 404


def test_blocked_prompt_is_refused_before_queueing_with_moderation_blocked(app, client):
    headers = key(app)
    got = error(
        client.post("/v1/videos", json={"prompt": "graphic gore, a beheading with blood everywhere"}, headers=headers),
        400,
        "moderation_blocked",
    )
    assert "violence" in got["message"].lower() or "gore" in got["message"].lower()
    assert client.get("/v1/videos", headers=headers).json()["data"] == []  # nothing queued
    events = app.state.tessera.store
    from sqlalchemy import select

    from tessera.serve.db import AuditEvent

    with events.sessions() as s:
        decisions = [e.detail for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "moderation"))]
    assert decisions and decisions[-1]["allowed"] is False and "prompt" not in str(decisions[-1].get("text", ""))


@pytest.mark.parametrize(
    "path,body,param",
    [
        ("/v1/videos", {"prompt": "a ball", "sede": 3}, "sede"),  # a misspelt seed
        ("/v1/videos", {"prompt": "a ball", "strength": 0.5}, "strength"),  # an edit's field sent to a create
        ("/v1/videos/edits", {"prompt": "a ball", "video": {"id": "video_" + "0" * 32}, "seconds": "2"}, "seconds"),
        (
            "/v1/storyboards",
            {"shots": [{"prompt": "a ball", "duration": 1}], "negative_prompt": "x"},
            "negative_prompt",
        ),
    ],
)
def test_a_field_the_request_does_not_take_is_refused_by_name(app, client, path, body, param):
    headers = key(app)
    got = error(client.post(path, json=body, headers=headers), 400, "unknown_parameter")
    assert got["param"] == param and "this request takes" in got["message"]
    assert client.get("/v1/videos", headers=headers).json()["data"] == []  # nothing queued


def test_openapi_spec_is_served_and_lists_the_videos_api(client):
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/videos",
        "/v1/videos/{video_id}",
        "/v1/videos/{video_id}/content",
        "/v1/videos/{video_id}/remix",
        "/v1/videos/extensions",
        "/v1/videos/edits",
        "/v1/models",
    ):
        assert path in spec["paths"], path
    # Each request body lists the fields the server takes for it, and no other.
    body = spec["paths"]["/v1/videos/edits"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "strength" in body["properties"] and "seconds" not in body["properties"]


def test_a_missing_source_or_too_long_a_result_is_refused_and_leaves_nothing_on_disk(app, client, tmp_path):
    headers = key(app)
    missing = client.post(
        "/v1/videos/edits", json={"prompt": "x", "video": {"id": "video_" + "0" * 32}}, headers=headers
    )
    error(missing, 404)
    import numpy as np

    from tessera.media import write_mp4

    long_clip = write_mp4(tmp_path / "long.mp4", np.zeros((8 * 13 + 1, 64, 64, 3), np.uint8), 8.0)
    too_long = client.post(
        "/v1/videos/edits",
        files={"video": ("long.mp4", long_clip.read_bytes(), "video/mp4")},
        data={"prompt": "a blue ball"},
        headers=headers,
    )
    assert "at most 12 s" in error(too_long, 400)["message"]
    assert not (tmp_path / "videos").exists() or not any((tmp_path / "videos").iterdir())


def test_an_upload_is_decoded_no_larger_than_the_models_sizes_need(app, client, tmp_path):
    # Video compresses without bound: a 67 KB upload of 999 still 2048x2048 frames decoded whole to 12.6 GB and
    # took all of a 24 GB server's memory. Frames are now shrunk as they decode to what covers the model's sizes.
    import numpy as np

    from tessera.media import read_video, write_mp4
    from tessera.serve.requests import ModelInfo, Upload, check_video

    big = write_mp4(tmp_path / "big.mp4", np.full((9, 576, 1024, 3), 90, np.uint8), 8.0).read_bytes()
    model = ModelInfo("m", ("64x64", "112x64"), 8.0, 33)
    assert model.cover == (112, 64)
    data, clip = check_video(Upload("big.mp4", "video/mp4", big), app.state.tessera.settings, model.cover)
    assert data == big and clip.frames.shape == (9, 64, 114, 3)  # 1024x576 at 64 high covers 112x64
    edit = client.post(
        "/v1/videos/edits",
        files={"video": ("big.mp4", big, "video/mp4")},
        data={"prompt": "a blue ball rolls"},
        headers=key(app),
    )
    assert edit.status_code == 200 and edit.json()["size"] == "112x64"  # the nearest aspect, as before
    stored = next((tmp_path / "videos").glob("*/inputs/source.mp4"))
    assert stored.read_bytes() == big and read_video(stored).width == 1024  # kept as uploaded, for the worker
