"""`python -m davserver.cli`: the `liasse` command without its installed script."""

import sys

from davserver.cli import main

sys.exit(main())
