"""``python -m nfldeploy.serving``: the container's entrypoint (settings from NFLSERVE_* and PORT)."""

from nfldeploy.serving.server import run

run()
