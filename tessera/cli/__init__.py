"""The ``tessera`` command: thin Typer wrappers over the packages."""
