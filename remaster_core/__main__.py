import sys

from remaster_core.cli import main

sys.exit(main())
