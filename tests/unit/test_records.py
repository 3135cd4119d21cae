"""The typed records: a mismatch names the file and the field; the build record's updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manifests import sample_manifest
from nfldeploy.errors import ConfigError
from nfldeploy.records.build import Build, BuildRecord, read_build_record, write_build_record
from nfldeploy.records.golden import read_golden
from nfldeploy.records.manifest import read_manifest, read_manifest_if_any


def _build(kind: str = "server", runtime: str = "onnx", tag: str = "repo/app:1") -> Build:
    return Build.model_validate(
        {
            "image_id": "sha256:" + "1" * 64,
            "tag": tag,
            "size_bytes": 10,
            "layers": 2,
            "labels": {},
            "kind": kind,
            "runtime": runtime,
            "seconds": 1.0,
            "cached_steps": 0,
        }
    )


def _write_manifest(folder: Path, **replace: object) -> Path:
    data = sample_manifest().model_dump(mode="json")
    data.update(replace)
    (folder / "manifest.json").write_text(json.dumps(data))
    return folder


def test_a_manifest_round_trips_and_keeps_unknown_keys(tmp_path: Path) -> None:
    _write_manifest(tmp_path, written_by_a_newer_version={"x": 1})
    manifest = read_manifest(tmp_path)
    assert manifest.short_sha == "07ddda2891bd"
    assert manifest.model_dump(mode="json")["written_by_a_newer_version"] == {"x": 1}
    assert "onnx_int8" not in manifest.model_dump(mode="json")["accuracy"]  # absent gates stay absent
    assert read_manifest(tmp_path / "manifest.json") == manifest


@pytest.mark.parametrize(
    ("replace", "field"),
    [
        (
            {
                "artifacts": {
                    "onnx": {"file": "model.onnx", "format": "onnx", "precision": "fp32", "bytes": 1}
                }
            },
            "artifacts.onnx.sha256",
        ),
        ({"model": {"horizon": "ten", "modes": 3, "max_players": 23, "history_len": 5}}, "model.horizon"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_a_manifest_that_does_not_match_names_the_file_and_the_field(
    tmp_path: Path, replace: dict[str, object], field: str
) -> None:
    _write_manifest(tmp_path, **replace)
    with pytest.raises(ConfigError) as caught:
        read_manifest(tmp_path)
    assert str(tmp_path / "manifest.json") in caught.value.message
    assert f"field {field}:" in caught.value.message


def test_no_manifest(tmp_path: Path) -> None:
    assert read_manifest_if_any(tmp_path) is None
    with pytest.raises(ConfigError, match="export manifest not found"):
        read_manifest(tmp_path)


def test_the_artifact_lookup_lists_what_there_is() -> None:
    with pytest.raises(ConfigError, match=r"no 'onnx_int8' artifact \(it has onnx, torchscript\)"):
        sample_manifest().artifact("onnx_int8")


def test_the_golden_set_must_pair_requests_and_answers(tmp_path: Path) -> None:
    manifest = sample_manifest()
    (tmp_path / "golden").mkdir()
    play = {"players": [{"nfl_id": 1}], "play_direction": "left"}
    answer = {"predicted_positions": [[[1.0, 2.0]]]}
    (tmp_path / "golden/requests.json").write_text(json.dumps([play, play]))
    (tmp_path / "golden/outputs.json").write_text(json.dumps([answer]))
    with pytest.raises(ConfigError, match="2 requests and 1 answers"):
        read_golden(tmp_path, manifest.golden)
    (tmp_path / "golden/outputs.json").write_text(json.dumps([answer, {"predicted_positions": "far"}]))
    with pytest.raises(ConfigError, match=r"golden outputs field 1\.predicted_positions"):
        read_golden(tmp_path, manifest.golden)
    (tmp_path / "golden/outputs.json").write_text(json.dumps([answer, answer]))
    golden = read_golden(tmp_path, manifest.golden)
    assert golden.bodies == [play, play]  # sent exactly as exported, extra keys included


def test_the_build_record_keeps_one_build_per_variant_and_the_latest_push_last(tmp_path: Path) -> None:
    assert read_build_record(tmp_path) == BuildRecord()  # nothing built yet
    record = (
        BuildRecord().with_build(_build(tag="repo/app:1")).with_build(_build("lambda", tag="repo/app:1-l"))
    )
    record = record.with_build(_build(tag="repo/app:2"))  # a later server build replaces the first
    assert sorted(record.builds) == ["lambda-onnx", "server-onnx"] and record.last == "server-onnx"
    assert record.of_kind("server") is not None and record.of_kind("server").tag == "repo/app:2"  # type: ignore[union-attr]
    assert record.with_push("repo/app:1", "r/app:1", "sha256:a") is None  # no build of that tag
    pushed = record.with_push("repo/app:2", "reg/app:2", "sha256:a")
    assert pushed is not None
    pushed = pushed.with_push("repo/app:2", "other/app:2", "sha256:b")
    pushed = pushed.with_push("repo/app:2", "reg/app:2", "sha256:c")  # pushed again: the latest again
    assert pushed is not None
    server = pushed.builds["server-onnx"]
    assert server.pushed_reference == "reg/app@sha256:c"
    write_build_record(tmp_path, pushed)
    assert read_build_record(tmp_path) == pushed


def test_an_unreadable_build_record_is_an_error_not_an_empty_record(tmp_path: Path) -> None:
    (tmp_path / "build-record.json").write_text(json.dumps({"builds": {"server-onnx": {"tag": "x"}}}))
    with pytest.raises(ConfigError, match=r"build record field builds\.server-onnx\.image_id"):
        read_build_record(tmp_path)
