"""The built-in ``cache`` extension: a node-local cache of image data on streaming nodes.

See ``docs/cache.md``. Other extensions (``p2p``) plug in through
:mod:`glimpse.cache.fillers` and the hooks ``register_cache_fillers``,
``image_cached`` and ``image_uncached``.
"""
