"""Serving: the OpenAI-compatible Videos API, the durable job queue, API keys and the web studio."""

from tessera.serve.settings import Settings

__all__ = ["Settings", "create_app"]


def create_app(*args, **kwargs):
    from tessera.serve.app import create_app as make

    return make(*args, **kwargs)
