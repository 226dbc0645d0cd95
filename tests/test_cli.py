"""The command line: help, describe (text and JSON), exit code 2 with every problem named."""
import json
import subprocess
import sys

import numpy as np
import pytest
import wfdb

from hfecg_bench.cli import main


def _write_folder(tmp_path, fs=1000, flat=False):
    rng = np.random.default_rng(1)
    names = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]
    for k in range(3):
        sig = np.sin(np.linspace(0, 20, 2500))[:, None] + rng.normal(0, 0.05, (2500, 12))
        if flat and k == 1:
            sig[:, 8] = 0.1
        wfdb.wrsamp(f"r{k}", fs=fs, units=["mV"] * 12, sig_name=names, d_signal=np.round(sig * 2000).astype(np.int16),
                    fmt=["16"] * 12, adc_gain=[2000.0] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    (tmp_path / "labels.csv").write_text("record,patient_id,label\nr0,a,0\nr1,b,1\nr2,b,1\n")
    return tmp_path


def test_help_lists_subcommands():
    p = subprocess.run([sys.executable, "-m", "hfecg_bench", "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for word in ("run", "data", "features", "report"):
        assert word in p.stdout


def test_describe_json(tmp_path, capsys):
    folder = _write_folder(tmp_path)
    rc = main(["data", "describe", "--dataset", "wfdb", "--data-dir", str(folder), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert (d["n_records"], d["n_patients"], d["n_positive"], d["n_negative"], d["fs"]) == (3, 2, 1, 1, 1000)
    assert d["excluded"] == []


def test_describe_text_and_problems(tmp_path, capsys):
    folder = _write_folder(tmp_path, flat=True)
    rc = main(["data", "describe", "--dataset", "wfdb", "--data-dir", str(folder)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "r1: flat lead V3" in err and "--skip-bad" in err and "Traceback" not in err
    rc = main(["data", "describe", "--dataset", "wfdb", "--data-dir", str(folder), "--skip-bad"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "records       2" in out and "r1: flat lead V3" in out


def test_low_fs_message_names_both_rates(tmp_path, capsys):
    folder = _write_folder(tmp_path, fs=500)
    assert main(["data", "describe", "--dataset", "wfdb", "--data-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "500 Hz is below the 1000 Hz" in err


@pytest.mark.parametrize("argv, needle", [
    (["data", "describe", "--dataset", "wfdb"], "needs --data-dir"),
    (["data", "describe", "--dataset", "wfdb", "--data-dir", "/nonexistent/x"], "not found"),
])
def test_clear_errors(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
