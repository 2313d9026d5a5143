"""The fuzzing sweep (issue #18): every reader and every verb fed hostile input.

- ``test_readers.py``: property-based tests (Hypothesis, few examples) over each reader a user can feed
  directly: override files, training configs, the worker protocol, mutated manifests, the CLI's argument
  types, model files.
- ``sweep.py``: mutation of real files for every verb (truncate, flip bytes, resize, swap, symlink, NaN
  frames, absurd numbers, a full small disk), each run as a real ``remaster`` subprocess with a time
  bound and judged (``Verdict``): a clear error, or the verb's own failure (unclear message, traceback,
  hang, a write outside the output folder, an input changed or deleted, a partial file left).
- ``test_verbs.py``: the sweep's CI subset (a few minutes); ``bench/fuzz.py`` runs all of it and more
  random mutations, and prints the table.
"""
