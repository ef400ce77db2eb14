"""Watermark and C2PA: marks survive what they must, unmarked files stay unmarked, tampering shows."""

import os
import stat

import numpy as np
import pytest

from tessera.errors import InvalidInputError, MediaError, NotFoundError
from tessera.media import psnr, read_video, save, write_mp4
from tessera.provenance import Generation, detect, embed, make_payload, read_manifest, sign_file, verify
from tessera.world import sample_clip


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


@pytest.fixture(autouse=True)
def _config(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))  # a fresh development certificate


@pytest.fixture(scope="module")
def clip():
    return sample_clip(7, "in-dist", 64, 64, 17, 8.0).frames


def test_mark_is_invisible_and_reads_back_its_payload(clip):
    payload = make_payload(1, "content-7")
    marked = embed(clip, payload)
    assert psnr(marked, clip) >= 38
    found = detect(marked)
    assert found.detected and found.payload == payload and found.p_value < 1e-9
    assert found.bit_accuracy(payload) == 1.0


def test_unmarked_clips_and_noise_are_not_detected(clip):
    assert not detect(clip).detected
    noise = np.random.default_rng(0).integers(0, 256, (9, 64, 64, 3), dtype=np.uint8)
    assert not detect(noise).detected


def test_mark_survives_reencode_crop_and_brightness(clip, tmp_path):
    payload = make_payload(1, "robust")
    marked = embed(clip, payload)
    frames = read_video(write_mp4(tmp_path / "a.mp4", marked, 8.0, crf=28)).frames
    frames = np.clip(frames[:, 9:54, 9:54].astype(float) * 1.5, 0, 255).astype(np.uint8)  # crop 71%, brighter
    found = detect(frames)
    assert found.detected and found.bit_accuracy(payload) >= 0.9


def test_mark_survives_an_upscale_to_be_seen_and_an_upscaled_unmarked_clip_stays_unmarked(clip, tmp_path):
    # A 64x64 clip is upscaled to be watched or shared; at 2x the mark went unseen (p = 0.43).
    from tessera.media import resample

    payload = make_payload(1, "upscaled")
    marked = embed(clip, payload)
    for size in (128, 256):
        big = read_video(write_mp4(tmp_path / f"{size}.mp4", resample(marked, 8.0, size=(size, size)), 8.0)).frames
        found = detect(big)
        assert found.detected and found.scale == size / 64 and found.payload == payload
    assert not detect(resample(clip, 8.0, size=(256, 256))).detected
    # verify reads what the check needs (64 frames, 256 px on the short side): at 1024x1024, 16x, the clip read
    # whole was past the ladder's 8x (and took 30 s); 96 frames are more than it reads.
    signed = tmp_path / "big.mp4"
    write_mp4(signed, resample(np.concatenate([marked] * 6), 8.0, size=(1024, 1024)), 8.0)
    report = verify(signed)
    assert report.watermark_detected and report.watermark_payload == f"{payload:08x}"


def test_bad_inputs(clip):
    with pytest.raises(InvalidInputError, match="32 bits"):
        embed(clip, 2**40)
    with pytest.raises(InvalidInputError, match="at least 32x32"):
        embed(clip[:, :16, :16], 1)
    with pytest.raises(InvalidInputError, match="generator_id"):
        make_payload(300, "x")


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".png"])
def test_signed_files_validate_and_name_the_generator(clip, tmp_path, suffix):
    payload = make_payload(1, "signed")
    path = save(tmp_path / f"out{suffix}", embed(clip if suffix != ".png" else clip[:1], payload), 8.0)
    sign_file(path, Generation("tessera-test", "ab" * 32, watermark_payload=payload, prompt="a secret prompt"))
    report = read_manifest(path)
    assert report.present and report.state == "Valid" and report.failures == ["signingCredential.untrusted"]
    action = report.actions[0]
    assert action["action"] == "c2pa.created" and action["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert action["softwareAgent"]["name"] == "Tessera" and report.soft_binding == f"{payload:08x}"
    assert "secret" not in path.read_bytes().decode("latin-1")  # no prompt text unless the operator allows it
    result = verify(path)
    assert result.watermark_detected and "Valid" in result.verdict
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()  # signing keeps the user's file mode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # and leaves no temporary


def test_inputs_become_ingredients_of_a_composite(clip, tmp_path):
    source = write_mp4(tmp_path / "in.mp4", clip, 8.0)
    out = write_mp4(tmp_path / "out.mp4", embed(clip, 5), 8.0)
    sign_file(out, Generation("tessera-test", "00", task="extend", watermark_payload=5, ingredients=[source]))
    assert read_manifest(out).actions[0]["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")


def test_tampered_unmarked_and_broken_files(clip, tmp_path):
    path = write_mp4(tmp_path / "out.mp4", embed(clip, 9), 8.0)
    sign_file(path, Generation("tessera-test", "00", watermark_payload=9))
    data = bytearray(path.read_bytes())
    data[data.index(b"mdat") + 64] ^= 0xFF  # one byte of the coded pictures
    (tmp_path / "edited.mp4").write_bytes(bytes(data))
    edited = verify(tmp_path / "edited.mp4")
    assert edited.manifest.tampered and edited.verdict.startswith("TAMPERED")
    plain = verify(write_mp4(tmp_path / "plain.mp4", clip, 8.0))
    assert not plain.manifest.present and not plain.watermark_detected
    assert plain.verdict.startswith("no provenance found")
    data[40] ^= 0xFF  # a header byte: the file no longer parses, and still reads as tampered, not as an error
    (tmp_path / "broken.mp4").write_bytes(bytes(data))
    assert verify(tmp_path / "broken.mp4").verdict.startswith("TAMPERED")
    # Files that never held a manifest and are not the format their name says are not "tampered": whatever
    # c2pa's parser says of them (a short file ends its reading early), they are refused as unreadable.
    plain_bytes = (tmp_path / "plain.mp4").read_bytes()
    for name, junk, message in (
        ("junk.mp4", b"not a video at all", "not a readable video/mp4 file"),
        ("short.mp4", b"hello\n", "not a readable video/mp4 file"),
        ("cut.mp4", plain_bytes[:3000], "the file is truncated or corrupt"),
    ):
        (tmp_path / name).write_bytes(junk)
        with pytest.raises(MediaError, match=f"{name}: .*{message}"):
            verify(tmp_path / name)
    with pytest.raises(NotFoundError, match="no such file"):
        verify(tmp_path / "missing.mp4")
    with pytest.raises(NotFoundError, match="is a folder; give a video or image file"):
        verify(tmp_path)
    with pytest.raises(MediaError, match="cannot carry"):
        sign_file(tmp_path / "x.webm", Generation("t", "0"))


def test_workers_starting_together_share_one_development_signer(tmp_path):
    # Each makes a pair; written file by file, one's chain could land beside another's key and every signature
    # would fail from then on. Whole folders are renamed into place: the first wins and the rest read it.
    from concurrent.futures import ThreadPoolExecutor

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tessera.errors import ConfigError
    from tessera.provenance.manifest import _dev_credentials

    folder = tmp_path / "c2pa-dev"
    with ThreadPoolExecutor(8) as pool:
        pairs = set(pool.map(lambda _: _dev_credentials(folder), range(8)))
    assert len(pairs) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["c2pa-dev"]  # no temporaries left
    chain, key = pairs.pop()
    public = serialization.load_pem_private_key(key, None).public_key()
    assert x509.load_pem_x509_certificates(chain)[0].public_key() == public  # the key signs for the chain's leaf
    assert stat.S_IMODE((folder / "signer.key").stat().st_mode) == 0o600
    (folder / "signer.key").unlink()  # half a signer (a crash of an older version): said, never half-used
    with pytest.raises(ConfigError, match="no complete development signer"):
        _dev_credentials(folder)
