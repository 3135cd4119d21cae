"""Traffic arithmetic shared by the targets with canaries: pure functions of the current split."""

from __future__ import annotations

from collections.abc import Mapping


def canary_split(revision: str, traffic: Mapping[str, int], canary: int | None) -> dict[str, int]:
    """The split after deploying ``revision``: all of it without a canary; else ``canary`` % for it and the
    rest shared among the serving revisions in proportion to what they have now (largest first, the last
    one takes the rounding remainder, so the shares always sum to 100). Revisions left with 0 % drop out."""
    if canary is None:
        return {revision: 100}
    if traffic.get(revision) == canary:
        return dict(traffic)
    others = {rev: pct for rev, pct in traffic.items() if rev != revision}
    total = sum(others.values())
    wanted = {revision: canary}
    left = 100 - canary
    for index, (rev, pct) in enumerate(sorted(others.items(), key=lambda item: -item[1])):
        share = left if index == len(others) - 1 else round(pct * (100 - canary) / total)
        wanted[rev] = share
        left -= share
    return {rev: pct for rev, pct in wanted.items() if pct}


def alias_weights(version: str, additional: Mapping[str, float]) -> dict[str, int]:
    """A Lambda alias's split in percent: ``version`` gets what the additional versions' weights (0..1)
    leave."""
    extra = {v: round(w * 100) for v, w in additional.items()}
    return {version: 100 - sum(extra.values()), **extra}
