"""remaster_nuke: the Nuke side of remaster (callbacks of the gizmos and the worker client).

Pure Python that parses on Python 3.7 (Nuke 13) and imports nothing but the standard library and
``nuke``. The engine runs out of process in ``remaster worker`` (the project's own environment);
this package only talks to it. Modules:

- ``client``: start ``remaster worker`` once per Nuke session, JSON-lines requests, crash handling
  (no ``nuke`` import);
- ``settings``: the Remaster node's knob values checked, worker parameters, cache key (no ``nuke``);
- ``cache``: the cache folder layout (no ``nuke``);
- ``geometry``: align.json / conform.json, transforms, Nuke Transform knob values (no ``nuke``);
- ``manifests``: the checks of align.json and conform.json, remaster_core's rules (no ``nuke``);
- ``knobs``: knob helpers with clear errors;
- ``remaster_node``, ``align_node``, ``offset_node``, ``inference_node``: the gizmos' callbacks;
- ``batch``: process the Remaster nodes of a script from the command line (``nuke -t``).

docs/nuke.md is the user's guide.
"""

__version__ = "0.1.0"
