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


def artifact_registry_login() -> dict[str, str]:
    """Registry credentials for Artifact Registry / gcr.io: ``oauth2accesstoken`` and an access token from
    Application Default Credentials. Never written anywhere: handed to the push only."""
    import google.auth
    import google.auth.exceptions
    import google.auth.transport.requests

    from nfldeploy.errors import PushError

    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as exc:
        raise PushError(
            f"cannot get a Google access token: {exc}",
            hint="Run 'gcloud auth application-default login' or set GOOGLE_APPLICATION_CREDENTIALS.",
        ) from exc
    return {"username": "oauth2accesstoken", "password": str(credentials.token)}
