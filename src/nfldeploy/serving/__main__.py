"""``python -m nfldeploy.serving``: the container's entrypoint (settings from NFLSERVE_* and PORT)."""

import sys

from nfldeploy.errors import ConfigError
from nfldeploy.serving.server import run

try:
    run()
except ConfigError as exc:  # a bad NFLSERVE_* value: one line, exit 1 (never a traceback)
    print(f"error: {exc.message}", file=sys.stderr)
    sys.exit(1)
