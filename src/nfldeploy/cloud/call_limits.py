"""How long and how often a cloud API call may be tried: one policy for both clouds, from the settings
``cloud_call_attempts`` and ``cloud_call_timeout``, handed to the SDKs' own retry machinery (botocore's
``standard`` retry mode, google-api-core's ``Retry``), never to loops of our own. Pure: no SDK import here."""

from __future__ import annotations

from dataclasses import dataclass

from nfldeploy.settings import DeploySettings

#: botocore's standard mode backs off ``random() * 2**attempt`` seconds, at most 20
#: (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html: "maximum backoff time of 20
#: seconds"); google-api-core's Retry the same shape with ``initial``, ``multiplier`` and ``maximum``.
MAX_BACKOFF = 20.0
FIRST_BACKOFF = 1.0


@dataclass(frozen=True)
class CallLimits:
    """``attempts`` per call (the first included), each waiting at most ``timeout`` seconds for its answer."""

    attempts: int = 5
    timeout: float = 60.0

    @classmethod
    def of(cls, settings: DeploySettings) -> CallLimits:
        return cls(settings.cloud_call_attempts, settings.cloud_call_timeout)

    @property
    def backoff(self) -> float:
        """The longest the waits between the attempts of one call add up to."""
        return float(sum(min(MAX_BACKOFF, FIRST_BACKOFF * 2.0**i) for i in range(self.attempts - 1)))

    @property
    def budget(self) -> float:
        """The longest one call may take with all its attempts and waits: what a test bounds a command by."""
        return self.attempts * self.timeout + self.backoff
