"""``python -m remaster_core.worker``: the same as ``remaster worker`` (for environments without the
console script on the PATH)."""

import sys

from remaster_core.cli import worker

sys.exit(worker.main())
