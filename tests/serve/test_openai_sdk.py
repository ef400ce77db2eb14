"""The official `openai` SDK against a real uvicorn process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import time

import httpx
import openai
import pytest

from tessera.provenance import verify


def wait(client, video_id: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.2)
    raise AssertionError(f"{video_id} still {video.status} after {timeout}s")


def ffmpeg_plays(path) -> None:
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    result = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_sdk_create_retrieve_list_download_remix_delete(server_factory, database_url, tmp_path):
    server = server_factory(database_url)
    secret = server.cli("keys", "create", "sdk test").strip().splitlines()[-1]
    server.start()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=secret, max_retries=0)

    video = client.videos.create(prompt="a red ball falls and bounces on the floor", size="64x64", seconds="2")
    assert video.status in ("queued", "in_progress") and video.object == "video" and video.seconds == "2"
    done = wait(client, video.id)
    assert done.status == "completed" and done.progress == 100 and done.completed_at >= done.created_at
    # The short prompt was re-captioned: the video object says to what (a Tessera field, as OpenAI's images name it).
    assert done.prompt == "a red ball falls and bounces on the floor" and done.revised_prompt.startswith("a ")
    assert "red" in done.revised_prompt and done.revised_prompt != done.prompt
    # A client that wants its words kept says so (a Tessera field); the SDK passes it through extra_body.
    kept = wait(
        client, client.videos.create(prompt="red ball bouncing", seconds="1", extra_body={"recaption": False}).id
    )
    assert kept.status == "completed" and kept.revised_prompt is None
    client.videos.delete(kept.id)
    # A prompt that names nothing of the world is made anyway, as the CLI makes it, with a note that says so.
    assert done.notice is None
    dog = client.videos.create(prompt="a dog barks at the mailman", seconds="1")
    assert "names nothing of it" in dog.notice and "name a ball, square or triangle" in dog.notice
    client.videos.delete(dog.id)
    # OpenAI's own sizes, which unmodified clients send, map to the model's size of the nearest aspect ratio.
    for asked, made in (("1280x720", "112x64"), ("720x1280", "64x64"), ("1792x1024", "112x64")):
        mapped = client.videos.create(prompt="a red ball falls", size=asked, seconds="1")
        assert mapped.size == made
        client.videos.delete(mapped.id)

    listed = client.videos.list(limit=10)
    assert [v.id for v in listed.data] == [video.id]

    content = client.videos.download_content(video.id)
    path = tmp_path / "out.mp4"
    content.write_to_file(path)
    ffmpeg_plays(path)
    # HEAD, which a download manager or `curl -I` asks first, answers as GET does without the body (it was a 405).
    head = httpx.head(f"{server.url}/v1/videos/{video.id}/content", headers={"Authorization": f"Bearer {secret}"})
    assert head.status_code == 200 and int(head.headers["content-length"]) == path.stat().st_size
    assert head.content == b"" and head.headers["content-type"] == "video/mp4"
    report = verify(path)
    assert report.manifest.present and report.manifest.state == "Valid" and not report.manifest.tampered
    assert report.watermark_detected, report.verdict
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"
    sheet = client.videos.download_content(video.id, variant="spritesheet")
    assert sheet.content[:3] == b"\xff\xd8\xff"

    remix = client.videos.remix(video.id, prompt="a blue ball falls and bounces on the floor")
    assert remix.remixed_from_video_id == video.id
    remixed = wait(client, remix.id)
    assert remixed.status == "completed" and remixed.seconds == "2"
    assert [v.id for v in client.videos.list(order="asc").data] == [video.id, remix.id]
    page = client.videos.list(limit=1, order="asc")
    assert page.has_more and [v.id for v in page.data] == [video.id]
    assert [v.id for v in client.videos.list(limit=1, order="asc", after=video.id).data] == [remix.id]

    gone = client.videos.delete(video.id)
    assert gone.deleted and gone.id == video.id
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert [v.id for v in client.videos.list().data] == [remix.id]

    models = client.models.list()
    assert [m.id for m in models.data] == ["tessera-tiny"]
    # Retrieve, by its name or OpenAI's (which creates map to it); any other is a 404 naming the served one.
    assert client.models.retrieve("tessera-tiny").id == client.models.retrieve("sora-2").id == "tessera-tiny"
    served = client.models.retrieve("tessera-tiny").model_extra  # Tessera's fields: what a request may ask of it
    assert served["longest_loop_seconds"] == 0.5 and (served["default_steps"], served["default_guidance"]) == (2, 2.0)
    with pytest.raises(openai.NotFoundError, match="this server has 'tessera-tiny'"):
        client.models.retrieve("gpt-image-1")

    # The audit trail: requests, moderation decisions, the job's life, deliveries, deletion.
    from sqlalchemy import select

    from tessera.serve.db import AuditEvent, make_engine, sessions

    engine = make_engine(database_url)
    with sessions(engine)() as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.video_id)).all()
    engine.dispose()
    actions = {a for a, _ in events}
    assert {"request", "moderation", "job.queued", "job.completed", "delivery", "video.deleted"} <= actions
    assert ("delivery", video.id) in events and ("job.completed", remix.id) in events
    # SIGTERM: uvicorn shuts down gracefully, then exits by the signal it got (so -15 is a clean exit)
    assert server.stop() in (0, -15) and "shutdown complete" in server.log.read_text()


def test_sdk_extend_an_upload_and_edit_by_id(server_factory, tmp_path):
    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}")
    secret = server.cli("keys", "create", "sdk test").strip().splitlines()[-1]
    client = openai.OpenAI(base_url=server.start().url + "/v1", api_key=secret, max_retries=0)
    source = wait(client, client.videos.create(prompt="a red ball rolls to the right", size="112x64", seconds="1").id)
    source_file = tmp_path / "source.mp4"
    client.videos.download_content(source.id).write_to_file(source_file)
    from tessera.media import read_video, write_mp4

    # Uploaded at 24 fps (each frame three times): still a 1 s clip, resampled to the model's 8 fps, so 1 + 2 s.
    fast = write_mp4(tmp_path / "fast.mp4", read_video(source_file).frames.repeat(3, axis=0)[:25], 24.0)

    extended = client.videos.extend(prompt="the red ball keeps rolling", seconds="2", video=fast)
    assert extended.seconds == "3" and extended.size == "112x64"
    # This SDK version cannot send {"id": ...} in a multipart body, so the by-id form goes as JSON.
    edited = client.post(
        "/videos/edits", body={"prompt": "a green ball rolls", "video": {"id": source.id}}, cast_to=openai.types.Video
    )
    assert edited.seconds == "1" and edited.size == "112x64"
    for job in (extended, edited):
        assert wait(client, job.id).status == "completed"
    path = tmp_path / "long.mp4"
    client.videos.download_content(extended.id).write_to_file(path)
    clip = read_video(path)
    assert clip.num_frames == 3 * 8 + 1 and (clip.width, clip.height) == (112, 64)
    assert verify(path).watermark_detected

    # What this server does not do is a clear 400, not a bare 405 (the SDK does not retry a 400).
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create_character(name="bob", video=fast)
    assert refused.value.code == "unsupported_feature" and "characters are not supported" in refused.value.message
    with pytest.raises(openai.BadRequestError, match="characters are not supported"):
        client.videos.get_character("char_123")
    put = httpx.put(server.url + "/v1/videos", headers={"Authorization": f"Bearer {secret}"})
    assert put.status_code == 405 and "PUT is not allowed on /v1/videos; it takes GET, POST" in put.text
    assert put.headers["allow"] == "GET, POST"


def test_loops_backward_extensions_and_connections_as_the_cli_makes_them(server_factory, long_model_dir, tmp_path):
    # Sora's tasks the CLI had and the API did not: a seamless loop, an extension backward, two clips connected.
    from tessera.media import read_video, write_mp4
    from tessera.provenance import read_manifest

    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}", model=long_model_dir)
    secret = server.cli("keys", "create", "tasks").strip().splitlines()[-1]
    client = openai.OpenAI(base_url=server.start().url + "/v1", api_key=secret, max_retries=0)

    def download(video) -> tuple:
        done = wait(client, video.id)
        assert done.status == "completed", done.error
        path = tmp_path / f"{video.id}.mp4"
        client.videos.download_content(video.id).write_to_file(path)
        manifest = read_manifest(path)
        assert manifest.state == "Valid" and verify(path).watermark_detected
        return read_video(path), manifest.actions[0]["parameters"]["task"]

    loop = client.videos.create(prompt="a red ball bounces on the floor", seconds="1", extra_body={"loop": True})
    a = client.videos.create(prompt="a red ball rolls to the right", seconds="1")
    b = client.videos.create(prompt="a blue square slides to the left", size="112x64", seconds="2")
    clip, task = download(loop)
    assert task == "loop" and clip.num_frames == 9 and loop.seconds == "1"
    # A loop holds its first frame for one latent block to close: 17 frames a call leave room for 1.5 s.
    with pytest.raises(openai.BadRequestError, match="a loop lasts at most 1.5 s with this model"):
        client.videos.create(prompt="a red ball bounces", seconds="2", extra_body={"loop": True})
    with pytest.raises(openai.BadRequestError, match="'recaption' applies to text-to-video only"):
        client.videos.create(prompt="a red ball bounces", seconds="1", extra_body={"loop": True, "recaption": True})

    back = client.post(
        "/videos/extensions",
        body={"prompt": "a red ball rolls in", "seconds": "1", "video": {"id": a.id}, "direction": "backward"},
        cast_to=openai.types.Video,
    )
    assert back.seconds == "2" and back.size == "64x64"
    first, _ = download(a)
    clip, task = download(back)
    assert task == "extend" and clip.num_frames == 17
    with pytest.raises(openai.BadRequestError, match="direction 'sideways' is not supported"):
        client.post(
            "/videos/extensions",
            body={"prompt": "p", "video": {"id": a.id}, "direction": "sideways"},
            cast_to=openai.types.Video,
        )

    # Connected: by id, then the second clip as an upload (a multipart body, as the SDK sends files).
    joined = client.post(
        "/videos/connections",
        body={
            "prompt": "the ball turns into a square",
            "seconds": "1",
            "video": {"id": a.id},
            "end_video": {"id": b.id},
        },
        cast_to=openai.types.Video,
    )
    second, _ = download(b)
    upload = write_mp4(tmp_path / "b.mp4", second.frames, second.fps)
    posted = httpx.post(
        f"{server.url}/v1/videos/connections",
        headers={"Authorization": f"Bearer {secret}"},
        data={"prompt": "the ball turns into a square", "seconds": "2", "video[id]": a.id},
        files={"end_video": ("b.mp4", upload.read_bytes(), "video/mp4")},
    )
    assert posted.status_code == 200, posted.text
    # The first clip but its last frame (which opens the bridge), the bridge, the second clip but its first block.
    for video, bridge in ((joined, 9), (openai.types.Video.model_construct(**posted.json()), 17)):
        clip, task = download(video)
        assert task == "connect" and video.size == "64x64"
        assert clip.num_frames == first.num_frames - 1 + bridge + second.num_frames - 5
        assert float(video.seconds) == (clip.num_frames - 1) / clip.fps
        assert (clip.width, clip.height) == (64, 64)
    with pytest.raises(openai.BadRequestError, match="'end_video' is required"):
        client.post("/videos/connections", body={"prompt": "p", "video": {"id": a.id}}, cast_to=openai.types.Video)
    with pytest.raises(openai.BadRequestError, match="seconds '3' is not supported; supported: 1, 2"):
        client.post(
            "/videos/connections",
            body={"prompt": "p", "seconds": "3", "video": {"id": a.id}, "end_video": {"id": b.id}},
            cast_to=openai.types.Video,
        )


def test_storyboard_endpoint_renders_one_signed_clip_and_refuses_a_blocked_shot(server_factory, tmp_path):
    import base64
    import io

    from PIL import Image

    from tessera.media import read_video
    from tessera.provenance import read_manifest
    from tessera.provenance.manifest import COMPOSITE, CREATED

    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}")
    secret = server.cli("keys", "create", "board").strip().splitlines()[-1]
    client = openai.OpenAI(base_url=server.start().url + "/v1", api_key=secret, max_retries=0)
    shots = [
        {"prompt": "a red ball rolls in from the left", "duration": 1, "at": 0},
        {"prompt": "it hits a blue square", "duration": 1, "at": 1},
        {"prompt": "a green triangle falls", "duration": 0.5, "at": 2, "transition": "cut"},
    ]
    video = client.post("/storyboards", body={"shots": shots, "size": "64x64"}, cast_to=openai.types.Video)
    assert video.seconds == "2.5" and video.status == "queued"
    assert wait(client, video.id).status == "completed"
    path = tmp_path / "board.mp4"
    client.videos.download_content(video.id).write_to_file(path)
    assert read_video(path).num_frames == 1 + 8 * 2.5
    manifest = read_manifest(path)
    assert [a["parameters"].get("description") for a in manifest.actions[1:]] == [
        "shot 1 (cut) 0-1 s",
        "shot 2 (continuous) 1-2 s",
        "shot 3 (cut) 2-2.5 s",
    ]
    assert verify(path).watermark_detected
    assert manifest.actions[0]["digitalSourceType"] == CREATED  # made from the prompts alone

    # A cut may start from an image, given as input_reference is (it was refused: "not accepted over the API yet").
    png = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 200, 30)).save(png, format="PNG")
    image = {"image_url": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()}
    pictured = client.post(
        "/storyboards",
        body={"shots": [shots[0], {**shots[2], "at": 1, "image": image}]},
        cast_to=openai.types.Video,
    )
    assert pictured.seconds == "1.5" and wait(client, pictured.id).status == "completed"
    client.videos.download_content(pictured.id).write_to_file(tmp_path / "pictured.mp4")
    assert read_video(tmp_path / "pictured.mp4").num_frames == 1 + 8 * 1.5
    # The image is the manifest's ingredient, so the video is declared a composite of it.
    assert read_manifest(tmp_path / "pictured.mp4").actions[0]["digitalSourceType"] == COMPOSITE
    client.videos.delete(pictured.id)

    headers = {"Authorization": f"Bearer {secret}"}
    for shot, message in (
        ({**shots[1], "image": image}, "shot 2 gives an image but continues the previous shot; make it a cut"),
        ({**shots[2], "image": {"image_url": "data:image/png;base64,AAAA"}}, "shot 2: image is not a readable image"),
        ({**shots[2], "image": {"image_url": "https://example.com/a.png"}}, "shot 2: image: only base64 data URLs"),
        ({**shots[2], "image": 7}, 'shot 2: image must be {"image_url"'),
    ):
        refused = httpx.post(server.url + "/v1/storyboards", json={"shots": [shots[0], shot]}, headers=headers)
        assert refused.status_code == 400 and refused.json()["error"]["message"].startswith(message), refused.text
    bad = shots[:1] + [{"prompt": "graphic gore, a beheading with blood everywhere", "duration": 1}]
    refused = httpx.post(server.url + "/v1/storyboards", json={"shots": bad}, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "moderation_blocked"
    assert refused.json()["error"]["message"].startswith("shot 2:")
    gap = httpx.post(
        server.url + "/v1/storyboards",
        headers=headers,
        json={"shots": [{"prompt": "a", "duration": 1, "at": 0}, {"prompt": "b", "duration": 1, "at": 3}]},
    )
    assert gap.status_code == 400 and "gap" in gap.json()["error"]["message"]
    assert [v.id for v in client.videos.list().data] == [video.id]  # nothing queued for the refusals
    assert video.notice is None
    odd = client.post(
        "/storyboards", body={"shots": [shots[0], {"prompt": "a cat naps", "duration": 1}]}, cast_to=openai.types.Video
    )
    assert odd.notice.startswith("shot 2: this model knows only the physics world, and 'a cat naps' names nothing")
    client.videos.delete(odd.id)


class Receiver:
    """A webhook receiver on localhost: records each delivery; answers ``fail`` of them 500 first."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.events: list[tuple[dict, bytes]] = []
        self.fail = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.events.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if receiver.fail > 0 else 200
                receiver.fail -= 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.events) >= count, f"{len(self.events)} of {count} deliveries arrived"
        return self.events


def test_webhooks_tell_an_endpoint_when_a_video_completes_signed_as_openai_signs(server_factory, tmp_path):
    import json

    receiver = Receiver()
    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}", TESSERA_WEBHOOK_RETRY_SECONDS="0.2")
    secret = server.cli("keys", "create", "hooks").strip().splitlines()[-1]
    client = openai.OpenAI(base_url=server.start().url + "/v1", api_key=secret, max_retries=0)

    hook = client.webhooks.create(name="ci", url=receiver.url, event_types=["video.completed", "video.failed"])
    assert hook.signing_secret.startswith("whsec_") and hook.signing_secret_hint.endswith(hook.signing_secret[-4:])
    assert [h.id for h in client.webhooks.list().data] == [hook.id]
    assert client.webhooks.retrieve(hook.id).url == receiver.url
    renamed = client.webhooks.update(hook.id, name="ci hooks")
    assert renamed.name == "ci hooks" and renamed.updated_at >= hook.updated_at and renamed.url == receiver.url
    tested = client.webhooks.test(hook.id, event_type="video.completed")
    assert tested.status_code == 200 and tested.webhook_endpoint_id == hook.id
    client.webhooks.verify_signature(receiver.wait(1)[0][1], receiver.events[0][0], secret=hook.signing_secret)

    # A delivery the endpoint refuses is sent again, the same event (webhook-id) with a fresh signature.
    receiver.fail = 1
    video = client.videos.create(prompt="a red ball falls", seconds="1")
    assert wait(client, video.id).status == "completed"
    (refused_headers, _), (headers, body) = receiver.wait(3)[1:3]
    assert refused_headers["webhook-id"] == headers["webhook-id"]
    client.webhooks.verify_signature(body, headers, secret=hook.signing_secret)
    event = json.loads(body)
    assert event["type"] == "video.completed" and event["data"] == {"id": video.id} and event["object"] == "event"

    # After a rotation only the new secret verifies; after deletion nothing more is sent.
    rotated = client.webhooks.rotate_secret(hook.id)
    assert rotated.signing_secret != hook.signing_secret
    second = client.videos.create(prompt="a blue ball falls", seconds="1")
    assert wait(client, second.id).status == "completed"
    headers, body = receiver.wait(4)[3]
    client.webhooks.verify_signature(body, headers, secret=rotated.signing_secret)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(body, headers, secret=hook.signing_secret)
    assert client.webhooks.delete(hook.id).deleted and client.webhooks.list().data == []
    assert wait(client, client.videos.create(prompt="a green ball falls", seconds="1").id).status == "completed"
    time.sleep(1.5)
    assert len(receiver.events) == 4
    # Prometheus counts the sender's attempts (the test event is sent by the request itself, not counted).
    scraped = httpx.get(server.url + "/metrics").text
    assert 'tessera_webhook_attempts_total{outcome="retry"} 1.0' in scraped
    assert 'tessera_webhook_attempts_total{outcome="delivered"} 2.0' in scraped

    with pytest.raises(openai.BadRequestError, match="event types this server sends: video.completed, video.failed"):
        client.webhooks.create(name="x", url=receiver.url, event_types=["batch.completed"])
    with pytest.raises(openai.BadRequestError, match="'url' must be an http:// or https:// URL"):
        client.webhooks.create(name="x", url="ftp://example.com/hook", event_types=["video.failed"])
    with pytest.raises(openai.NotFoundError):
        client.webhooks.retrieve(hook.id)
    receiver.server.shutdown()


def test_images_generate_returns_signed_watermarked_pngs_and_leaves_nothing_behind(server_factory, tmp_path):
    import base64
    import sqlite3

    import numpy as np
    from PIL import Image

    from tessera.provenance import read_manifest

    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}")
    secret = server.cli("keys", "create", "images").strip().splitlines()[-1]
    client = openai.OpenAI(base_url=server.start().url + "/v1", api_key=secret, max_retries=0)
    made = client.images.generate(prompt="a red ball rests on the floor", size="112x64", n=2, extra_body={"seed": 3})
    assert len(made.data) == 2 and made.output_format == "png"
    pixels = []
    for i, image in enumerate(made.data):
        path = tmp_path / f"image{i}.png"
        path.write_bytes(base64.b64decode(image.b64_json))
        with Image.open(path) as im:
            assert (im.format, im.size) == ("PNG", (112, 64))
            pixels.append(np.asarray(im.convert("RGB")))
        manifest = read_manifest(path)
        assert manifest.state == "Valid" and manifest.actions[0]["parameters"]["task"] == "text-to-image"
        assert verify(path).watermark_detected
    assert not np.array_equal(*pixels)  # seeds 3 and 4
    # Answered, not kept: no video to list, no files left.
    assert client.videos.list().data == [] and not any((tmp_path / "data" / "videos").iterdir())
    with pytest.raises(openai.BadRequestError, match="response_format must be b64_json"):
        client.images.generate(prompt="a red ball", response_format="url")
    with pytest.raises(openai.BadRequestError, match="size '2048x2048' is not supported; supported: 64x64, 112x64"):
        client.images.generate(prompt="a red ball", size="2048x2048")
    server.stop()
    # With no worker to make it, the request says so after the server's wait, and leaves nothing queued.
    idle = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}", workers=0, TESSERA_IMAGE_TIMEOUT="1")
    idle.start()
    with pytest.raises(openai.APIStatusError, match="no worker made the image within 1 s") as timed_out:
        client.with_options(base_url=idle.url + "/v1").images.generate(prompt="a red ball")
    assert timed_out.value.status_code == 504
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        assert db.execute("select count(*) from videos where deleted = 0").fetchone() == (0,)
