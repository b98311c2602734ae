"""The xbar command line: every command answers and its help ends with an example."""

import json
import subprocess
import sys

import pytest

from lstm import cli


def test_help_of_every_command_ends_with_an_example(capsys):
    parser = cli.build_parser()
    commands = [None] + list(parser._subparsers._group_actions[0].choices)
    for command in commands:
        argv = ["--help"] if command is None else [command, "--help"]
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        assert stop.value.code == 0
        text = capsys.readouterr().out.rstrip()
        assert "example:" in text
        assert text.splitlines()[-1].strip().startswith("xbar")


def test_presets_json_is_si(capsys):
    assert cli.main(["presets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["li2019"]["program_noise_sigma"] == pytest.approx(4e-6)


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "lstm.cli", "info"], capture_output=True, text=True, check=True)
    assert "numba" in out.stdout


def test_unknown_command_exits_2():
    with pytest.raises(SystemExit) as stop:
        cli.main(["nonesuch"])
    assert stop.value.code == 2
