"""Command-line usage errors: the sub-command's usage, exit status 2."""

from __future__ import annotations

import pytest

from crowdlearn.cli import main


@pytest.mark.parametrize("command", ["info", "aggregate"])
def test_unknown_arguments_print_the_subcommands_usage(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "x.csv", "--no-such-option"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: crowdlearn {command} ")
    assert err.strip().endswith(f"crowdlearn {command}: error: unrecognized arguments: "
                                "--no-such-option")


def test_unknown_top_level_arguments_keep_the_top_level_usage(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("usage: crowdlearn [-h]")
