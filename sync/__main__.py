"""`python -m sync`: the sync tool without the server's command (a firm's file server)."""

import sys

from sync.cli import main

sys.exit(main())
