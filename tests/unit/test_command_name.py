"""Follow-up hints name the nfldeploy that can be run from here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nfldeploy.cli.output import command_name


def test_the_venvs_nfldeploy_by_path_when_it_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "nfldeploy").write_text("#!/bin/sh\n")
    (venv_bin / "nfldeploy").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(venv_bin / "nfldeploy"), "up"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert command_name() == os.path.join(".venv", "bin", "nfldeploy")
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")  # activated: the plain name works
    assert command_name() == "nfldeploy"


def test_python_dash_m_and_test_runners_say_nfldeploy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/site-packages/nfldeploy/__main__.py"])
    assert command_name() == "nfldeploy"
