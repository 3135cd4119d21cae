"""nfldeploy: from a training run's config and checkpoint to a verified inference service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nfldeploy")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
