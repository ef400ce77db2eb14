"""C2PA manifests (c2pa-python): sign every output, read and validate any file.

Signing credentials come from configuration — ``TESSERA_C2PA_CERT`` (PEM chain, leaf first) and
``TESSERA_C2PA_KEY`` (PEM private key), ES256 by default (``TESSERA_C2PA_ALG``). With none configured, a local
development CA and signer are created once under ``~/.config/tessera/c2pa-dev`` (or
``$TESSERA_CONFIG_DIR``); signatures made with it validate (state ``Valid``: signature and hashes match)
but every reader reports the credential as untrusted, since no trust list contains a development CA.

The manifest says what made the file, never what was asked for: no prompt text unless the operator sets
``include_prompt`` (``TESSERA_C2PA_INCLUDE_PROMPT=1``).
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tessera.errors import ConfigError, MediaError, NotFoundError
from tessera.files import atomic_path

CREATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
SOFT_BINDING_ALG = "io.tessera.watermark.v1"
SIGNABLE = {".mp4": "video/mp4", ".gif": "image/gif", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass
class Generation:
    """What the manifest records about one output."""

    model: str  # model name, e.g. tessera-world-s
    model_hash: str  # sha256 of the transformer weights
    task: str = "text-to-video"  # text-to-video, image-to-video, extend, connect, loop, edit, text-to-image
    watermark_payload: int | None = None
    ingredients: list[Path] = field(default_factory=list)  # input files (image, clips)
    prompt: str | None = None  # recorded only when the operator allows it
    shots: list[dict] = field(default_factory=list)  # storyboards: {"start", "end", "transition"} per shot


def config_dir() -> Path:
    return Path(os.environ.get("TESSERA_CONFIG_DIR", Path.home() / ".config" / "tessera"))


def _dev_credentials(folder: Path) -> tuple[bytes, bytes]:
    """A development CA and ES256 signer (digitalSignature, emailProtection), created once and reused."""
    chain_path, key_path = folder / "chain.pem", folder / "signer.key"
    if chain_path.exists() and key_path.exists():
        return chain_path.read_bytes(), key_path.read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tessera local development (untrusted)"),
            ]
        )

    def usage(**on: bool) -> x509.KeyUsage:
        flags = dict.fromkeys(
            (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ),
            False,
        )
        return x509.KeyUsage(**{**flags, **on})

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    valid = dict(not_valid_before=now - datetime.timedelta(days=1), not_valid_after=now + datetime.timedelta(days=3650))
    ca = (
        x509.CertificateBuilder(subject_name=name("Tessera dev CA"), issuer_name=name("Tessera dev CA"), **valid)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(subject_name=name("Tessera dev signer"), issuer_name=ca.subject, **valid)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # The pair is written into a folder of its own and renamed into place whole: workers starting together on
    # a fresh machine each make a pair, and file by file one's chain could end up beside another's key, which
    # would fail every signature from then on. The first rename wins; the others read its pair.
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{secrets.token_hex(6)}")
    tmp.mkdir(mode=0o700)
    try:
        (tmp / chain_path.name).write_bytes(chain)
        fd = os.open(tmp / key_path.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # its owner's only
        with os.fdopen(fd, "wb") as f:
            f.write(private)
        try:
            os.rename(tmp, folder)  # fails if the folder is there (another process's pair, or half of one)
        except OSError:
            if not (chain_path.exists() and key_path.exists()):
                raise ConfigError(
                    f"{folder} holds no complete development signer (chain.pem and signer.key); remove the folder "
                    "and Tessera makes a new one, or set TESSERA_C2PA_CERT and TESSERA_C2PA_KEY"
                ) from None
            return chain_path.read_bytes(), key_path.read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return chain, private


def credentials() -> tuple[bytes, bytes, str, bool]:
    """(certificate chain PEM, private key PEM, algorithm, is_development)."""
    cert, key = os.environ.get("TESSERA_C2PA_CERT"), os.environ.get("TESSERA_C2PA_KEY")
    alg = os.environ.get("TESSERA_C2PA_ALG", "es256").lower()
    if cert or key:
        if not (cert and key):
            raise ConfigError("set both TESSERA_C2PA_CERT (PEM chain) and TESSERA_C2PA_KEY (PEM key), or neither")
        for path in (cert, key):
            if not Path(path).is_file():
                raise NotFoundError(f"C2PA credential file {path} does not exist")
        return Path(cert).read_bytes(), Path(key).read_bytes(), alg, False
    chain, private = _dev_credentials(config_dir() / "c2pa-dev")
    return chain, private, "es256", True


def _manifest(gen: Generation, title: str, include_prompt: bool) -> dict:
    import tessera

    composite = bool(gen.ingredients)
    action = {
        "action": "c2pa.created",
        "digitalSourceType": COMPOSITE if composite else CREATED,
        "softwareAgent": {"name": "Tessera", "version": tessera.__version__},
        "parameters": {"model": gen.model, "model_sha256": gen.model_hash, "task": gen.task},
    }
    if include_prompt and gen.prompt:
        action["parameters"]["prompt"] = gen.prompt
    actions = [action]
    for i, shot in enumerate(gen.shots, 1):  # a storyboard lists its shots as the steps that made the video
        actions.append(
            {
                "action": "c2pa.edited",
                "digitalSourceType": CREATED,
                "softwareAgent": {"name": "Tessera", "version": tessera.__version__},
                "parameters": {"description": f"shot {i} ({shot['transition']}) {shot['start']:g}-{shot['end']:g} s"},
            }
        )
    assertions = [
        {"label": "c2pa.actions.v2", "data": {"actions": actions}},
        {
            # The output may not be used to train or mine models without permission (C2PA training-and-mining).
            "label": "c2pa.training-mining",
            "data": {
                "entries": {
                    k: {"use": "notAllowed"}
                    for k in (
                        "c2pa.ai_generative_training",
                        "c2pa.ai_inference",
                        "c2pa.ai_training",
                        "c2pa.data_mining",
                    )
                }
            },
        },
    ]
    if gen.watermark_payload is not None:
        assertions.append(
            {
                # Soft binding: the invisible watermark that survives when this manifest is stripped.
                "label": "c2pa.soft-binding",
                "data": {"alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": f"{gen.watermark_payload:08x}"}]},
            }
        )
    return {
        "claim_generator_info": [{"name": "Tessera", "version": tessera.__version__}],
        "title": title,
        "assertions": assertions,
    }


def sign_file(path: str | os.PathLike, gen: Generation, include_prompt: bool | None = None) -> Path:
    """Embed a signed manifest into ``path`` (MP4, GIF, PNG, JPEG), replacing it atomically."""
    import c2pa

    path = Path(path)
    mime = SIGNABLE.get(path.suffix.lower())
    if mime is None:
        raise MediaError(f"{path}: cannot carry a C2PA manifest; use one of {', '.join(SIGNABLE)}")
    if include_prompt is None:
        include_prompt = os.environ.get("TESSERA_C2PA_INCLUDE_PROMPT") == "1"
    chain, key, alg, _ = credentials()
    builder = c2pa.Builder(_manifest(gen, path.name, include_prompt))
    for ingredient in gen.ingredients:
        kind = SIGNABLE.get(Path(ingredient).suffix.lower())
        if kind is None:
            continue
        with open(ingredient, "rb") as stream:
            builder.add_ingredient({"title": Path(ingredient).name, "relationship": "inputTo"}, kind, stream)
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg.encode(), chain, key, None))
    try:
        with atomic_path(path) as tmp, open(path, "rb") as src, open(tmp, "w+b") as dst:
            builder.sign(signer, mime, src, dst)
    except c2pa.C2paError as e:
        raise MediaError(f"{path}: could not sign ({e})") from e
    finally:
        signer.close()
        builder.close()
    return path


@dataclass
class ManifestReport:
    present: bool
    state: str | None  # "Valid", "Invalid" (tampered or broken), "Trusted"; None when absent
    failures: list[str]  # validation failure codes
    informational: list[str]
    generator: str | None
    actions: list[dict]
    soft_binding: str | None

    @property
    def tampered(self) -> bool:
        return self.present and self.state == "Invalid"


def read_manifest(path: str | os.PathLike) -> ManifestReport:
    """Read and validate the manifest of a file; a file without one reports ``present=False``."""
    import c2pa

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(
            f"{path}: is a folder; give a video or image file" if path.is_dir() else f"{path}: no such file"
        )
    mime = SIGNABLE.get(path.suffix.lower())
    if mime is None:
        return ManifestReport(False, None, [], [], None, [], None)
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader(mime, stream)
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            active = reader.get_active_manifest() or {}
            reader.close()
    except c2pa.C2paError as e:
        text = str(e)
        data = path.read_bytes()
        # Manifest bytes still in the file but unreachable or unparsable: it was signed, then damaged.
        signed = b"jumb" in data and b"c2pa" in data
        if ("ManifestNotFound" in type(e).__name__ or "no JUMBF" in text) and not signed:
            return ManifestReport(False, None, [], [], None, [], None)
        if not signed:  # no manifest was ever there, and the file is not the format its name says
            raise MediaError(f"{path}: not a readable {mime} file ({text.strip()}); give a video or image") from e
        # A manifest that is there but cannot be read: broken or tampered.
        return ManifestReport(True, "Invalid", [text.strip()], [], None, [], None)
    codes = results.get("activeManifest", {})
    failures = [c["code"] for c in codes.get("failure", [])]
    informational = [c["code"] for c in codes.get("informational", [])]
    assertions = {a["label"]: a.get("data", {}) for a in active.get("assertions", [])}
    info = active.get("claim_generator_info") or [{}]
    soft = assertions.get("c2pa.soft-binding", {}).get("blocks", [{}])[0].get("value")
    return ManifestReport(
        True,
        state,
        failures,
        informational,
        f"{info[0].get('name', '')} {info[0].get('version', '')}".strip() or None,
        assertions.get("c2pa.actions.v2", {}).get("actions", []),
        soft,
    )
