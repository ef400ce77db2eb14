"""Provenance on every output: an invisible watermark in the pixels and a signed C2PA manifest; ``verify``."""

from tessera.provenance.manifest import Generation, ManifestReport, read_manifest, sign_file
from tessera.provenance.verify import Verification, verify
from tessera.provenance.watermark import Detection, detect, embed, make_payload

__all__ = [
    "Detection",
    "Generation",
    "ManifestReport",
    "Verification",
    "detect",
    "embed",
    "make_payload",
    "read_manifest",
    "sign_file",
    "verify",
]
