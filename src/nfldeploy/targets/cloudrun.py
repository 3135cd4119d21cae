"""Google Cloud Run target: the only module that imports google-cloud-run."""

from __future__ import annotations

import os
from pathlib import Path

from nfldeploy.errors import ConfigError


def credential_source() -> str | None:
    """Where Application Default Credentials would come from, without contacting any server.

    Returns the credentials file's path (never its contents), or None when no file is configured.
    """
    explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS points at a missing file: {explicit}")
        return f"GOOGLE_APPLICATION_CREDENTIALS={explicit}"
    config_dir = Path(os.environ.get("CLOUDSDK_CONFIG", Path.home() / ".config" / "gcloud"))
    well_known = config_dir / "application_default_credentials.json"
    return str(well_known) if well_known.is_file() else None
