"""`python -m liasse.cli`: the `liasse` command without its installed script."""

import sys

from liasse.cli import main

sys.exit(main())
