"""AWS Lambda target: the only module that imports boto3."""

from __future__ import annotations


def credential_source() -> str | None:
    """How the standard AWS chain finds credentials ("env", "shared-credentials-file", ...), or None.

    Never returns the credentials themselves.
    """
    try:
        import boto3
    except ImportError:  # pragma: no cover - the cloud extra is missing
        return None
    credentials = boto3.Session().get_credentials()
    return None if credentials is None else str(credentials.method)
