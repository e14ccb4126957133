"""``python -m bridge.sandbox.jira --port 8080 --mode cloud --state-dir DIR`` (prints the URL when ready)."""

import sys

from bridge.sandbox.jira.sandbox import main

sys.exit(main())
