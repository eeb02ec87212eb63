"""The README lists every subcommand's options exactly as the parser defines them."""

from __future__ import annotations

from pathlib import Path

from qkdnet.cli.main import COMMANDS
from qkdnet.cli.options_doc import readme_block, render_options

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_option_list_is_the_parser_s() -> None:
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block, "README.md lost its options block"
    assert block == render_options(), "regenerate it: .venv/bin/python -m qkdnet.cli.options_doc --write README.md"


def test_the_generated_list_names_every_subcommand_and_option() -> None:
    text = render_options()
    for command in COMMANDS:
        assert f"* `qkdnet {command}" in text, command
    for option in ("--plot FILE.png|DIR", "--seed N", "--scheduler tcp://HOST:8786", "--strengths LIST", "--days N"):
        assert f"`{option}`" in text, option
