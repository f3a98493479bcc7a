"""Where nif-zoo keeps what it can recompute: ``$NIF_ZOO_CACHE``, else ``~/.cache/nif-zoo``.

Subfolders: ``jax/`` (compiled XLA programs, :func:`enable_compilation_cache`), ``fid/``
(reference Inception statistics), and the tfds array_record copies of image folders.
Everything there can be deleted at any time.
"""
from __future__ import annotations

import os
from typing import Optional


def cache_root() -> str:
    return os.environ.get("NIF_ZOO_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "nif-zoo")


CACHE_SAFE_FROM = (0, 7)
"""The oldest JAX whose persistent cache nif-zoo turns on: with jaxlib 0.4.30 and 0.4.38 a
second ``nif-zoo train`` crashes (a segfault, or glibc's "malloc_consolidate(): unaligned
fastbin chunk") when it reloads the cached training step from the cache on the CPU; 0.7.2
and later reload it correctly (issue 40, docs/install.md)."""


def package_version(name: str) -> tuple:
    """An installed package's (major, minor, patch) as integers, read from its metadata
    without importing it; ``importlib.metadata.PackageNotFoundError`` when not installed."""
    from importlib.metadata import version

    return tuple(int(p) for p in version(name).split(".")[:3] if p.isdigit())


def jax_version() -> tuple:
    """The installed JAX's version (:func:`package_version`: JAX is not imported, since it
    reads its cache settings from the environment on import)."""
    return package_version("jax")


def enable_compilation_cache(path: Optional[str] = None) -> Optional[str]:
    """Turn on JAX's persistent compilation cache (compiled programs reused across
    processes: a second ``nif-zoo sample`` skips XLA compilation) in ``path`` (default
    ``cache_root()/jax``). Returns the folder in use, or None when disabled by
    ``NIF_ZOO_COMPILATION_CACHE=0``. A cache folder the user already gave JAX
    (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``) is kept. The command line calls this;
    library users may call it once at start-up. Not on a JAX older than
    ``CACHE_SAFE_FROM`` (returns None there)."""
    if os.environ.get("NIF_ZOO_COMPILATION_CACHE", "1") == "0":
        return None
    import jax

    if jax_version() < CACHE_SAFE_FROM:
        return None  # see CACHE_SAFE_FROM

    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    path = path or os.path.join(cache_root(), "jax")
    jax.config.update("jax_compilation_cache_dir", path)
    # JAX's default skips programs that compile in under a second: most sampling programs
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    return path
