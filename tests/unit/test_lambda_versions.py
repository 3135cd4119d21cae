"""Which Lambda versions a deploy or promote deletes (targets/lambda_versions.py): all but the serving, the
previous (rollback target), those an alias uses, and the newest ``lambda_keep_versions``."""

from __future__ import annotations

import pytest

from nfldeploy.settings import DeploySettings
from nfldeploy.targets.lambda_versions import numbered, referenced, retired, spans


def test_numbered_skips_latest_and_sorts_numerically() -> None:
    listed = [{"Version": "$LATEST"}, {"Version": "10"}, {"Version": "9"}, {"Version": "2"}]
    assert numbered(listed) == [2, 9, 10]


def test_referenced_counts_an_alias_version_and_its_routing_weights_but_skipped_aliases() -> None:
    aliases = [
        {"Name": "live", "FunctionVersion": "7", "RoutingConfig": {"AdditionalVersionWeights": {"8": 0.1}}},
        {"Name": "pinned", "FunctionVersion": "2"},
        {"Name": "beta", "FunctionVersion": "4", "RoutingConfig": {"AdditionalVersionWeights": {"5": 0.5}}},
    ]
    assert referenced(aliases) == {"7", "8", "2", "4", "5"}
    assert referenced(aliases, skip=("live",)) == {"2", "4", "5"}


@pytest.mark.parametrize(
    ("versions", "keep", "protected", "publishing", "expected"),
    [
        # fewer versions than kept: nothing goes (a negative slice kept only the newest)
        ([1, 2, 3], 5, {"3"}, True, ()),
        ([1, 2, 3, 4], 5, set(), True, ()),
        # the version about to be published counts among the newest
        ([1, 2, 3, 4, 5], 5, set(), True, ("1",)),
        ([1, 2, 3, 4, 5], 5, set(), False, ()),
        ([1, 2, 3, 4, 5, 6, 7], 3, set(), False, ("1", "2", "3", "4")),
        # serving, previous and aliased versions stay however old
        ([1, 2, 3, 4, 5, 6, 7], 3, {"1", "3"}, False, ("2", "4")),
        # keep 1 while publishing: only the new one is "newest"; the protected ones stay
        ([10, 11, 12], 1, {"12"}, True, ("10", "11")),
    ],
)
def test_retired(
    versions: list[int], keep: int, protected: set[str], publishing: bool, expected: tuple[str, ...]
) -> None:
    assert retired(versions, keep, protected, publishing) == expected


def test_spans_names_runs() -> None:
    assert spans(["1", "2", "3", "4", "7", "9", "10", "11", "12"]) == "1-4, 7, 9-12"
    assert spans(["5"]) == "5"


def test_lambda_keep_versions_is_a_setting_of_at_least_one() -> None:
    assert DeploySettings().lambda_keep_versions == 5
    assert DeploySettings(lambda_keep_versions=1).lambda_keep_versions == 1
    with pytest.raises(ValueError, match="lambda_keep_versions"):
        DeploySettings(lambda_keep_versions=0)
