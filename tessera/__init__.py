"""Tessera: open text-to-video in the Sora family, measured against a physics world."""

__version__ = "0.1.0"
