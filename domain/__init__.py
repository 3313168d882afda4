"""The words Watchfloor is written in: vocabularies, roles and viewers, caveats, defaults.

The bottom room: it imports nothing of ours and no third-party library, so ``settings`` and
every other package can stand on it (``make lint`` checks the import contract).
"""
