"""``nfldeploy doctor``: what this machine has for each step, and what to do about each miss."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from nfldeploy.errors import NfldeployError
from nfldeploy.extras import EXTRAS, missing_modules
from nfldeploy.settings import DeploySettings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: str
    detail: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return asdict(self)


def check_python() -> Check:
    """The interpreter nfldeploy runs on (3.11 or newer, as the package requires)."""
    return Check("python", OK, f"{platform.python_version()} at {sys.executable}")


def check_extras() -> list[Check]:
    """One line per optional part (export, serve, lambda): installed, or what is missing and how to add it."""
    checks = []
    for extra, (purpose, _) in EXTRAS.items():
        missing = missing_modules(extra)
        if missing:
            checks.append(
                Check(
                    f"extra {extra}",
                    WARN,
                    f"not installed (missing {', '.join(missing)}); needed for {purpose}",
                    f"pip install 'nfldeploy[{extra}]'",
                )
            )
        else:
            checks.append(Check(f"extra {extra}", OK, f"installed ({purpose})"))
    return checks


def check_docker() -> Check:
    """The Docker engine is reachable, and which API it speaks."""
    from nfldeploy.image.engine import connect, engine_info

    try:
        info = engine_info(connect(timeout=10))
    except NfldeployError as exc:
        return Check("docker", FAIL, exc.message, exc.hint or "")
    return Check("docker", OK, f"engine {info['version']} (API {info['api_version']}, {info['os']})")


def check_base_image(settings: DeploySettings) -> Check:
    """The configured base image is present locally (images may not be pullable)."""
    from nfldeploy.image.engine import connect

    try:
        client = connect(timeout=10)
    except NfldeployError as exc:
        return Check("base image", WARN, f"not checked: {exc.message}")
    try:
        client.images.get(settings.base_image)
    except Exception:
        return Check(
            "base image",
            WARN,
            f"{settings.base_image} is not present locally",
            "Run scripts/test-services to build it offline, or pull it where a registry is reachable.",
        )
    return Check("base image", OK, settings.base_image)


def check_registry(settings: DeploySettings) -> Check:
    """The configured registry answers on /v2/."""
    from nfldeploy.image.registry import ping

    if not settings.registry:
        return Check("registry", OK, "none configured (set 'registry' to push)")
    try:
        state = ping(settings.registry)
    except NfldeployError as exc:
        return Check("registry", FAIL, exc.message, "Start the registry or fix the 'registry' setting.")
    return Check("registry", OK, f"{settings.registry}: {state}")


def check_gcp() -> Check:
    """Application Default Credentials for Cloud Run (file location only)."""
    from nfldeploy.cloud.gcp import credential_source

    try:
        source = credential_source()
    except NfldeployError as exc:
        return Check("gcp credentials", WARN, exc.message, "Fix or unset GOOGLE_APPLICATION_CREDENTIALS.")
    if source is None:
        return Check(
            "gcp credentials",
            WARN,
            "no Application Default Credentials file",
            "Needed only for --target cloudrun: run 'gcloud auth application-default login' or set "
            "GOOGLE_APPLICATION_CREDENTIALS (on GCP runners, workload identity needs no file).",
        )
    return Check("gcp credentials", OK, source)


def check_aws() -> Check:
    """Credentials for Lambda and ECR through the standard AWS chain (its method, never the keys)."""
    from nfldeploy.cloud.aws import credential_source

    try:
        source = credential_source()
    except Exception as exc:  # botocore raises many kinds for a broken profile
        return Check(
            "aws credentials", WARN, f"the AWS credential chain failed: {exc}", "Check ~/.aws/config."
        )
    if source is None:
        return Check(
            "aws credentials",
            WARN,
            "none found in the AWS credential chain",
            "Needed only for --target lambda: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or "
            "use OIDC role assumption in CI.",
        )
    return Check("aws credentials", OK, f"found ({source})")


def check_kubernetes() -> Check:
    """Whether ``deploy --target kubernetes`` would apply (a kube context) or only render."""
    from nfldeploy.targets.kubernetes import current_context

    context = current_context()
    if context is None:
        return Check("kube context", WARN, "no kubectl context: --target kubernetes renders only")
    return Check("kube context", OK, context)


def run_checks(settings: DeploySettings) -> list[Check]:
    """All checks, in the order a user meets them."""
    checks: list[Callable[[], Check]] = [
        check_docker,
        lambda: check_base_image(settings),
        lambda: check_registry(settings),
        check_gcp,
        check_aws,
        check_kubernetes,
    ]
    return [check_python(), *check_extras(), *(check() for check in checks)]
