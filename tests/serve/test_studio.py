"""The web studio in headless Chromium (Playwright, Debian's browser): submit a prompt, watch it play."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def browser(playwright):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium not found; .ci/run installs Debian's 'chromium' package")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    # The flags keep Chromium off the network this machine does not have (see the env notes).
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def _missing(message) -> bool:
    return message.type == "error" and "404" in message.text and "/v1/" not in message.location.get("url", "")


@contextmanager
def studio(server_factory, tmp_path, model=None, **env):
    """A running server (of ``model``, the tiny one by default; ``env``: its TESSERA_* settings) and a Chromium page
    on its studio, connected with a fresh key; yields (page, errors)."""
    from playwright.sync_api import expect, sync_playwright

    server = server_factory(f"sqlite:///{tmp_path / 'db.sqlite'}", model=model, **env)
    secret = server.cli("keys", "create", "studio").strip().splitlines()[-1]
    server.start()
    with sync_playwright() as p:
        chromium = browser(p)
        page = chromium.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # The studio asks for no file the server lacks (the API's own 404s, for a deleted video, are its answers).
        # A console message, not a response event: the browser's own favicon request raises no response event.
        page.on("console", lambda m: _missing(m) and errors.append(f"{m.text} {m.location.get('url')}"))
        page.goto(f"{server.url}/#key={secret}")
        expect(page.locator("#key-status")).to_have_text("connected", timeout=15_000)
        yield page, errors
        chromium.close()


def playing(page) -> None:
    """Wait until the first card's video has decoded frames and its clock moves."""
    page.wait_for_function(
        "() => { const v = document.querySelector('.card video'); return v && v.readyState >= 2 && v.currentTime > 0 }",
        timeout=20_000,
    )


def test_studio_generates_and_plays_a_video(server_factory, tmp_path):
    from playwright.sync_api import expect

    with studio(server_factory, tmp_path) as (page, errors):
        assert "key=" not in page.url  # the secret is taken out of the address bar
        expect(page.locator("#gallery-empty")).to_be_visible()  # a new key's empty gallery says so
        assert page.locator("#size option").all_inner_texts() == ["64x64", "112x64"]
        expect(page.locator("#domain-hint")).to_be_visible()  # a world model: what its prompts should name
        page.fill("#prompt", "a red ball falls and bounces on the floor")
        page.select_option("#seconds", "1")
        page.click("#submit")
        card = page.locator(".card").first
        video = card.locator("video")
        expect(video).to_have_count(1, timeout=60_000)
        playing(page)  # the browser decoded the MP4 and its clock moves
        expect(page.locator("#gallery-empty")).to_be_hidden()
        width = video.evaluate("v => v.videoWidth")
        assert width == 64
        expect(card.locator(".revised")).to_contain_text("made as: a ")  # the re-captioned prompt
        expect(card.locator(".notice")).to_be_hidden()  # the prompt names the world: nothing to note
        expect(card.locator(".badge")).to_contain_text("C2PA signed", timeout=20_000)
        expect(card.locator(".badge")).to_contain_text("watermark")
        assert "✓ watermark" in card.locator(".badge").inner_text()
        assert card.locator(".download").get_attribute("download").endswith(".mp4")
        # "Keep my words": the next video is made from the prompt as typed.
        page.check("#keep-words")
        page.click("#submit")
        expect(page.locator(".card")).to_have_count(2)
        expect(page.locator(".card").first.locator("video")).to_have_count(1, timeout=60_000)
        assert page.locator(".card").first.locator(".revised").is_hidden()
        # A reload keeps the key (localStorage) and lists the videos in the gallery.
        page.reload()
        expect(page.locator(".card video")).to_have_count(2, timeout=20_000)
        assert not errors, errors


def test_studio_builds_a_two_shot_storyboard_and_plays_it(server_factory, tmp_path):
    from playwright.sync_api import expect

    with studio(server_factory, tmp_path) as (page, errors):
        shots = page.locator("#shots .shot")
        expect(shots).to_have_count(2)
        shots.nth(0).locator(".shot-prompt").fill("a green triangle falls")
        shots.nth(1).locator(".shot-prompt").fill("a red ball rolls in from the left")
        shots.nth(1).locator(".shot-duration").select_option("1.5")
        shots.nth(1).locator(".shot-up").click()  # reorder: the ball first
        assert shots.nth(0).locator(".shot-prompt").input_value() == "a red ball rolls in from the left"
        expect(page.locator("#timeline .segment")).to_have_text(["1 · 0–1.5 s", "2 · 1.5–2.5 s"])
        # The first shot joins nothing, so it offers no join choice; the one now second does.
        expect(shots.nth(0).locator(".shot-transition")).to_be_hidden()
        expect(shots.nth(1).locator(".shot-transition")).to_be_visible()
        page.click("#render-board")
        card = page.locator(".card").first
        expect(card.locator(".meta")).to_contain_text("2.5 s")
        expect(card.locator("video")).to_have_count(1, timeout=90_000)
        playing(page)
        assert card.locator("video").evaluate("v => v.duration") == pytest.approx(2.5 + 1 / 8, abs=0.2)
        assert not errors, errors


def test_a_storyboard_cut_starts_from_a_chosen_image(server_factory, tmp_path):
    import httpx
    from PIL import Image
    from playwright.sync_api import expect

    from tessera.provenance import read_manifest
    from tessera.provenance.manifest import COMPOSITE

    Image.new("RGB", (64, 64), (30, 200, 30)).save(tmp_path / "start.png")
    with studio(server_factory, tmp_path) as (page, errors):
        shots = page.locator("#shots .shot")
        shots.nth(0).locator(".shot-prompt").fill("a red ball rolls in from the left")
        shots.nth(1).locator(".shot-prompt").fill("a green square falls")
        # A continuing shot starts from the previous one's frames, so it offers no image; a cut does.
        expect(shots.nth(1).locator(".shot-image")).to_be_hidden()
        shots.nth(1).locator(".shot-transition").select_option("cut")
        expect(shots.nth(1).locator(".shot-image")).to_be_visible()
        shots.nth(1).locator(".shot-image").set_input_files(str(tmp_path / "start.png"))
        page.click("#render-board")
        card = page.locator(".card").first
        expect(card.locator("video")).to_have_count(1, timeout=90_000)
        assert page.locator("#board-error").inner_text() == ""
        # The image reached the server: it is the signed video's ingredient, so the video is declared a composite.
        key = page.evaluate("localStorage.getItem('tessera-key')")
        url = page.url.split("#")[0].rstrip("/") + f"/v1/videos/{card.get_attribute('data-id')}/content"
        (tmp_path / "board.mp4").write_bytes(httpx.get(url, headers={"Authorization": f"Bearer {key}"}).content)
        assert read_manifest(tmp_path / "board.mp4").actions[0]["digitalSourceType"] == COMPOSITE
        assert not errors, errors


def follow_up(page, follow, button: str, prompt: str, cards: int):
    """Click a card's Remix or Extend under ``prompt``; the new card (the ``cards``-th), once its video plays."""
    from playwright.sync_api import expect

    follow.locator(".follow-prompt").fill(prompt)
    follow.locator(f".{button}").click()
    expect(page.locator(".card")).to_have_count(cards, timeout=30_000)
    assert follow.locator(".follow-error").inner_text() == ""
    new = page.locator(".card").first
    expect(new.locator(".prompt")).to_have_text(prompt)
    expect(new.locator("video")).to_have_count(1, timeout=60_000)
    return new


def test_studio_extends_and_remixes_a_finished_video(server_factory, tmp_path):
    from playwright.sync_api import expect

    with studio(server_factory, tmp_path) as (page, errors):
        page.fill("#prompt", "a red ball rolls to the right")
        page.select_option("#seconds", "1")
        page.click("#submit")
        expect(page.locator(".card")).to_have_count(1)
        # Cards by id: a new one goes first, so ".first" would move.
        source = page.locator(f'.card[data-id="{page.locator(".card").first.get_attribute("data-id")}"]')
        expect(source.locator("video")).to_have_count(1, timeout=60_000)
        follow = source.locator(".follow")
        expect(follow).to_be_visible()
        assert follow.locator(".follow-prompt").input_value() == "a red ball rolls to the right"
        follow.locator(".follow-prompt").fill("")
        follow.locator(".extend").click()  # refused by the API: its message shows on the card, nothing is queued
        expect(follow.locator(".follow-error")).to_contain_text("prompt")
        expect(page.locator(".card")).to_have_count(1)
        extended = follow_up(page, follow, "extend", "the red ball keeps rolling", 2)
        expect(extended.locator(".meta")).to_contain_text("2 s")  # the 1 s source and 1 s more
        duration = extended.locator("video").evaluate(
            "v => new Promise(r => v.duration ? r(v.duration) : v.onloadedmetadata = () => r(v.duration))"
        )
        assert duration == pytest.approx(2 + 1 / 8, abs=0.2)
        follow_up(page, follow, "remix", "a green ball rolls to the right", 3)
        assert not errors, errors


def test_studio_makes_a_loop_then_leads_into_and_connects_videos(server_factory, long_model_dir, tmp_path):
    from playwright.sync_api import expect

    def duration(card):
        return card.locator("video").evaluate(
            "v => new Promise(r => v.duration ? r(v.duration) : v.onloadedmetadata = () => r(v.duration))"
        )

    with studio(server_factory, tmp_path, model=long_model_dir) as (page, errors):
        page.fill("#prompt", "a red ball bounces on the floor")
        page.select_option("#seconds", "2")
        page.check("#loop")  # this model's loops last at most 1.5 s: 2 s goes grey and 1 s is chosen
        expect(page.locator("#seconds")).to_have_value("1")
        assert page.locator('#seconds option[value="2"]').is_disabled()
        page.click("#submit")
        expect(page.locator(".card")).to_have_count(1)
        loop = page.locator(f'.card[data-id="{page.locator(".card").first.get_attribute("data-id")}"]')
        expect(loop.locator("video")).to_have_count(1, timeout=60_000)
        assert duration(loop) == pytest.approx(1 + 1 / 8, abs=0.2)
        expect(loop.locator(".connect")).to_be_disabled()  # nothing else to connect it to yet
        page.uncheck("#loop")
        page.fill("#prompt", "a blue square slides to the left")
        page.click("#submit")
        expect(page.locator(".card")).to_have_count(2)
        square_id = page.locator(".card").first.get_attribute("data-id")
        expect(page.locator(".card").first.locator("video")).to_have_count(1, timeout=60_000)
        follow = loop.locator(".follow")
        lead_in = follow_up(page, follow, "lead-in", "a red ball rolls in", 3)
        expect(lead_in.locator(".meta")).to_contain_text("2 s")  # 1 s before the 1 s loop
        assert follow.locator(".connect-to").input_value() == square_id  # the first choice stays as more videos come
        follow.locator(".connect-to").select_option(square_id)
        joined = follow_up(page, follow, "connect", "the ball turns into a square", 4)
        # The loop but its last frame, 1 s of new frames (9), the square but its first latent block: 21 frames.
        expect(joined.locator(".meta")).to_contain_text("2.5 s")
        assert duration(joined) == pytest.approx(2.5 + 1 / 8, abs=0.2)
        assert not errors, errors


def test_advanced_settings_are_sent_and_a_bad_one_is_explained(server_factory, tmp_path):
    from playwright.sync_api import expect

    with studio(server_factory, tmp_path) as (page, errors):
        expect(page.locator("#steps")).to_have_attribute("placeholder", "2")  # the tiny model's own
        page.fill("#prompt", "a red ball falls")
        page.select_option("#seconds", "1")
        page.click("#advanced summary")
        page.fill("#negative", "a blue ball")
        page.fill("#steps", "3")
        page.fill("#guidance", "4.5")
        with page.expect_request(lambda r: r.url.endswith("/v1/videos") and r.method == "POST") as sent:
            page.click("#submit")
        body = sent.value.post_data_buffer.decode(errors="replace")
        for field, value in (("negative_prompt", "a blue ball"), ("steps", "3"), ("guidance", "4.5")):
            assert f'name="{field}"\r\n\r\n{value}\r\n' in body, field
        expect(page.locator(".card video")).to_have_count(1, timeout=60_000)
        page.fill("#steps", "0")  # the browser's own check (min 1) stops it first; past that, the server explains
        page.evaluate("document.getElementById('create-form').noValidate = true")
        page.click("#submit")
        expect(page.locator("#create-error")).to_contain_text("'steps' must be between 1 and 200")
        assert not errors, errors


def test_studio_waits_out_the_keys_rate_limit_instead_of_failing(server_factory, tmp_path):
    from playwright.sync_api import expect

    # 10 requests a minute: a slot frees every 6 s.
    with studio(server_factory, tmp_path, TESSERA_RATE_PER_MINUTE="10") as (page, errors):
        drained = page.evaluate(
            """async () => {
                const headers = { Authorization: `Bearer ${localStorage.getItem("tessera-key")}` };
                for (let i = 0; i < 20; i++) if ((await fetch("/v1/models", { headers })).status === 429) return i;
                return -1;
            }"""
        )
        assert drained >= 0  # the key is over its rate now
        page.fill("#prompt", "a red ball falls")
        page.select_option("#seconds", "1")
        page.click("#submit")  # refused with 429 at first: the studio waits as the server asks and sends it again
        card = page.locator(".card").first
        expect(card.locator("video")).to_have_count(1, timeout=90_000)  # and its progress survives more 429s
        assert page.locator("#create-error").inner_text() == ""
        assert not errors, errors


def test_a_chosen_image_sets_the_size_and_starts_the_video(server_factory, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    Image.new("RGB", (192, 108), (200, 30, 30)).save(tmp_path / "wide.png")
    Image.new("RGB", (50, 50), (30, 30, 200)).save(tmp_path / "square.png")
    with studio(server_factory, tmp_path) as (page, errors):
        page.set_input_files("#image", str(tmp_path / "wide.png"))
        expect(page.locator("#size")).to_have_value("112x64")
        page.set_input_files("#image", str(tmp_path / "square.png"))
        expect(page.locator("#size")).to_have_value("64x64")
        page.set_input_files("#image", str(tmp_path / "wide.png"))
        expect(page.locator("#size")).to_have_value("112x64")
        page.fill("#prompt", "a red ball falls")
        page.select_option("#seconds", "1")
        page.click("#submit")
        video = page.locator(".card").first.locator("video")
        expect(video).to_have_count(1, timeout=60_000)
        playing(page)
        assert video.evaluate("v => v.videoWidth") == 112
        assert not errors, errors


def test_an_image_the_browser_cannot_read_is_sized_by_the_server(server_factory, tmp_path):
    # Chrome reads no HEIC, so the studio cannot size a phone's photo itself; the server, which reads it, does.
    import numpy as np
    from playwright.sync_api import expect

    from tests.media.heic import gridded_heic

    (tmp_path / "IMG_0001.HEIC").write_bytes(gridded_heic(np.full((84, 150, 3), 120, np.uint8), tile=64))
    with studio(server_factory, tmp_path) as (page, errors):
        page.set_input_files("#image", str(tmp_path / "IMG_0001.HEIC"))
        page.fill("#prompt", "a red ball falls")
        page.select_option("#seconds", "1")
        page.click("#submit")
        expect(page.locator(".card .meta").first).to_contain_text("112x64", timeout=15_000)  # 64x64 selected
        assert not errors, errors
