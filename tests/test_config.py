"""Run configuration: profiles, TOML overrides, errors naming the bad key."""
import pytest

from hfecg_bench.config import RunConfig, load_run_config
from hfecg_bench.errors import HfecgError, ParameterError


def test_profiles_differ_in_budget():
    quick, full = RunConfig.for_profile("quick"), RunConfig.for_profile("full")
    assert quick.evaluation.n_trials < full.evaluation.n_trials
    assert quick.deep.max_epochs <= full.deep.max_epochs
    d = quick.as_dict()
    assert set(d) == {"profile", "beats", "features", "evaluation", "deep"}
    assert d["features"]["hf_band"] in ([150.0, 250.0], (150.0, 250.0))


def test_toml_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[evaluation]\nn_trials = 3\n[features]\nhf_band = [140.0, 260.0]\n")
    cfg = load_run_config("quick", p)
    assert cfg.evaluation.n_trials == 3
    assert tuple(cfg.features.hf_band) == (140.0, 260.0)


@pytest.mark.parametrize("text, needle", [("[evaluatoin]\nn_trials = 3\n", "evaluatoin"),
                                          ("[evaluation]\nn_trails = 3\n", "n_trails"),
                                          ("[evaluation\n", "not valid TOML")])
def test_toml_errors_name_the_key(tmp_path, text, needle):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(HfecgError, match=needle):
        load_run_config("quick", p)


def test_unknown_profile():
    with pytest.raises(ParameterError, match="profile"):
        RunConfig.for_profile("medium")
