"""The xbar command line: every command answers and its help ends with an example."""

import json
import os
import subprocess
import sys

import pytest

from xbar import cli


def test_help_of_every_command_ends_with_an_example(capsys):
    parser = cli.build_parser()
    commands = [None] + list(parser._subparsers._group_actions[0].choices)
    for command in commands:
        argv = ["--help"] if command is None else [command, "--help"]
        assert cli.main(argv) == 0
        text = capsys.readouterr().out.rstrip()
        assert "example:" in text
        assert text.splitlines()[-1].strip().startswith("xbar")


def test_presets_json_is_si(capsys):
    assert cli.main(["presets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["li2019"]["program_noise_sigma"] == pytest.approx(4e-6)


def test_presets_lists_the_peripheries_with_their_sources(capsys):
    assert cli.main(["presets", "--verbose"]) == 0
    text = capsys.readouterr().out
    assert "isaac: 128 x 128 arrays" in text and "prime: 256 x 256 arrays" in text
    assert "doi:10.1109/ISCA.2016.12" in text and "doi:10.1109/ISCA.2016.13" in text


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "xbar.cli", "info"], capture_output=True, text=True, check=True)
    assert "numba" in out.stdout


def test_unknown_command_exits_2(capsys):
    assert cli.main(["nonesuch"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_output_paths_are_one_line_errors_before_any_work(tmp_path, capsys):
    import time

    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file")
    began = time.time()
    assert cli.main(["reproduce", "airline", "--out", str(blocker / "out")]) == 2
    assert time.time() - began < 5, "the folder must be checked before the training, not after"
    assert "cannot write there" in _one_line(capsys)
    assert cli.main(["sweep", "--vary", "adc.range=4", "--epochs", "2",
                     "--out", str(blocker / "r.jsonl")]) == 2
    assert "its folder cannot be made" in _one_line(capsys)
    assert cli.main(["map", "airline", "--out", str(blocker / "layout.png")]) == 2
    assert "cannot write there" in _one_line(capsys)
    assert blocker.read_text() == "a regular file"


def test_plot_refuses_unknown_names_in_one_line(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert cli.main(["sweep", "--vary", "adc.range=4,6", "--epochs", "2", "--out", str(out),
                     "--quiet"]) == 0
    capsys.readouterr()
    before = out.read_bytes()
    for argv, message in [(["--metric", "nope"], "--metric 'nope' is not in"), (["--x", "nope"], "--x 'nope'"),
                          (["--by", "nope"], "--by 'nope'")]:
        assert cli.main(["plot", str(out), "--out", str(tmp_path / "f.png"), *argv]) == 2
        assert message in _one_line(capsys)
    assert cli.main(["plot", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl does not exist" in _one_line(capsys)
    assert out.read_bytes() == before


def test_map_of_a_large_network_answers_in_seconds(tmp_path, capsys):
    import time

    began = time.time()
    out = tmp_path / "big.png"
    assert cli.main(["map", "custom", "--inputs", "200", "--hidden", "512", "512", "--outputs", "10",
                     "--out", str(out)]) == 0
    assert time.time() - began < 30  # 227 s and 2.8 GB before: every array was built and drawn
    text = capsys.readouterr().out
    assert "871 arrays of 128x64 devices" in text and "layer1" in text
    assert out.stat().st_size > 10000
    rows = (tmp_path / "big.csv").read_text().splitlines()
    assert rows[0].startswith("matrix,part,array") and len(rows) == 1 + 832 + 1088 + 18


def test_reproduce_resumes_from_its_checkpoints_with_the_same_numbers(tmp_path, capsys):
    def run(*extra):
        assert cli.main(["reproduce", "airline", "--epochs", "12", "--json", "--out", "", *extra]) == 0
        result = json.loads(capsys.readouterr().out)
        return {k: result[k] for k in ("software", "hardware")}

    whole = run()
    folder = tmp_path / "ck"
    assert cli.main(["reproduce", "airline", "--epochs", "5", "--json", "--out", "",
                     "--checkpoint", str(folder)]) == 0  # stopped after 5 epochs, then resumed to 12
    capsys.readouterr()
    assert run("--checkpoint", str(folder)) == whole
    assert sorted(os.listdir(folder)) == ["airline_in_situ_programmed_seed0.npz", "airline_software_seed0.npz"]


def test_a_cold_start_says_it_compiles_before_any_progress_bar(tmp_path, monkeypatch, capsys):
    from lstm import warmup
    from xbar.commands.checks import warm_up_kernels

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # an empty cache: the next run compiles
    assert not warmup.kernels_cached()
    monkeypatch.setattr(warmup, "_WARM", True)  # (the kernels are loaded in this process already)
    warm_up_kernels(True)
    assert "compiling kernels (first run only" in capsys.readouterr().err
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    warmup.warm_up()
    assert warmup.kernels_cached()
    warm_up_kernels(True)
    assert capsys.readouterr().err == ""


def test_version_and_python_m_xbar():
    from crossbar import __version__

    out = subprocess.run([sys.executable, "-m", "xbar", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"xbar {__version__}"


@pytest.mark.slow
def test_device_fit_writes_a_table_device_that_show_and_an_experiment_read(tmp_path, capsys):
    from crossbar.devices.pulse_tables import DATA_DIR
    from xbar.experiment import read_experiment_file

    ramps = [os.path.join(DATA_DIR, "crosssim_set_ramps.csv"), os.path.join(DATA_DIR, "crosssim_reset_ramps.csv")]
    out = str(tmp_path / "mine.toml")
    assert cli.main(["device", "fit", *ramps, "--read-voltage", "0.1", "--out", out, "--seeds", "5"]) == 0
    text = capsys.readouterr().out
    assert "79 ramps (39 up, 40 down)" in text and "soft_bounds" in text and "goodness of fit" in text
    assert os.path.exists(str(tmp_path / "mine.npz"))
    figure = str(tmp_path / "mine.png")
    assert cli.main(["device", "show", out, "--traces", *ramps, "--read-voltage", "0.1", "--out", figure,
                     "--seeds", "3"]) == 0
    assert "pulse table" in capsys.readouterr().out and os.path.getsize(figure) > 10_000
    experiment = tmp_path / "exp.toml"
    experiment.write_text('[data]\ntask = "vowels"\n[hardware]\npreset = "hfo2_soft_bounds"\n'
                          '[device]\ng_min = 1.6e-3\ng_max = 2.5e-3\n'
                          '[device.pulse_law]\nkind = "table"\ntable = "mine.npz"\ncycle_noise_sigma_relative = 0.0\n')
    exp, _ = read_experiment_file(str(experiment))
    assert exp.device_model().pulse_law.table == str(tmp_path / "mine.npz")
    assert cli.main(["device", "fit", ramps[0], "--out", str(tmp_path / "x.toml")]) == 2  # no down ramp
    assert "no down ramp" in capsys.readouterr().err


def test_reproduce_runs_on_any_preset_and_the_noise_study_refuses_one(capsys):
    assert cli.main(["reproduce", "vowels", "--preset", "taox_lut", "--epochs", "1", "--out", "", "--quiet"]) == 0
    assert "in situ on taox_lut" in capsys.readouterr().out
    assert cli.main(["reproduce", "noise", "--preset", "taox_lut", "--out", ""]) == 2
    assert "varies li2019's programming noise" in capsys.readouterr().err
