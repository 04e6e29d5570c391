"""Guards: what the code offers is documented."""

from __future__ import annotations

from pathlib import Path

from glimpse.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in text]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()[:10]
    commands = [line.strip() for line in lines if line.startswith("    ")]
    assert commands[0].endswith("glimpse-api")
    assert commands[1].endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci


def _hooks() -> list[str]:
    from glimpse.extensions import hookspecs

    return sorted(name for name, value in vars(hookspecs).items() if hasattr(value, "glimpse_spec"))


def test_every_hook_is_documented() -> None:
    text = (ROOT / "docs" / "extensions.md").read_text()
    assert len(_hooks()) >= 10
    assert [name for name in _hooks() if f"`{name}(" not in text] == []


def test_every_hook_is_exercised_by_the_test_extension() -> None:
    # tests/extensions/test_third_party.py checks that each implemented hook fires.
    source = (ROOT / "tests" / "extensions" / "acme_watermark" / "acme_watermark" / "__init__.py").read_text()
    assert [name for name in _hooks() if f"@hookimpl\ndef {name}(" not in source] == []
