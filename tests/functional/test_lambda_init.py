"""The Lambda handler's init, in this process: an environment that cannot serve raises InitError at import
(Lambda's init), after one "init failed" record with the error and a hint (the emulator's view of it is in
tests/integration/test_lambda_rie.py)."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import pytest

MODULE = "nfldeploy.serving.lambda_handler"


def _import(monkeypatch: pytest.MonkeyPatch, **env: str) -> object:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop(MODULE, None)
    try:
        return importlib.import_module(MODULE)
    finally:
        sys.modules.pop(MODULE, None)


def test_a_missing_model_raises_init_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="nfldeploy.serving")
    with pytest.raises(Exception, match=r"the model in .*missing failed to load") as raised:
        _import(monkeypatch, NFLSERVE_MODEL_DIR=str(tmp_path / "missing"))
    assert type(raised.value).__name__ == "InitError" and raised.value.__cause__ is None
    (record,) = [r for r in caplog.records if r.getMessage() == "init failed"]
    assert "missing" in record.error and "NFLSERVE_MODEL_DIR" in record.hint  # type: ignore[attr-defined]


def test_a_bad_setting_raises_init_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, example_export: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="nfldeploy.serving")
    with pytest.raises(Exception, match=r"NFLSERVE_THREADS='many' is not a valid int") as raised:
        _import(monkeypatch, NFLSERVE_MODEL_DIR=str(example_export), NFLSERVE_THREADS="many")
    assert type(raised.value).__name__ == "InitError"
    assert [r.getMessage() for r in caplog.records] == ["init failed"]


def test_a_good_environment_imports(monkeypatch: pytest.MonkeyPatch, example_export: Path) -> None:
    module = _import(monkeypatch, NFLSERVE_MODEL_DIR=str(example_export))
    assert callable(getattr(module, "handler", None))
