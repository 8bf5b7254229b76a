"""The README documents every setting and the commands CI runs."""

from __future__ import annotations

from marsad.settings import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`MARSAD_{name.upper()}`" in README, name


def test_ci_runs_the_readme_test_command() -> None:
    assert "\nmake test\n" in README
    assert "make test" in (REPO / ".ci" / "run").read_text()
