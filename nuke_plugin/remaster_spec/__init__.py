"""Declarations shared by ``remaster_core`` and the Nuke plugin: standard library only, Python 3.7+.

This package lives in ``nuke_plugin/`` (so Nuke, with that folder on its plugin path, imports it without
our binary dependencies) and is installed with ``remaster`` as the top-level package ``remaster_spec``
(pyproject.toml's package search covers both folders). Declare here what both sides must read alike.
"""
