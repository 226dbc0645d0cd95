"""The explicit runtime setup: nothing happens on import; setup_runtime quiets TensorFlow, real errors still show."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from hfecg_bench.errors import ParameterError
from hfecg_bench.runtime import TFLogFilter, setup_runtime

#: What the acceptance check rejects on stdout/stderr of a run.
NOISE = re.compile(r"oneDNN|cudart|absl::|^[IWE]\d{4} ", re.MULTILINE)

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = ("I0000 00:00:1795914860.795307    4524 port.cc:153] oneDNN custom operations are on. You may see "
          "slightly different numerical results due to floating-point round-off errors.")
CUDART = ("I0000 00:00:1795914860.796811    4524 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
          "GPU will not be used.")
CPU_GUARD = ("I0000 00:00:1795914861.166970    4524 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to "
             "use available CPU instructions in performance-critical operations.")
CPU_GUARD_2 = ("To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
               "appropriate compiler flags.")
CUINIT = ("E0000 00:00:1795914864.994867    4524 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          "Failed call to cuInit: UNKNOWN ERROR (303)")
UNBOUNDED = ("E0000 00:00:1795914865.224817    4524 node_def_util.cc:682] NodeDef mentions attribute "
             "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset> Unknown attributes "
             "will be ignored. NodeDef: {{node ParallelMapDatasetV2/_16}}")
WARN = "W0000 00:00:1795914865.300000    4524 some_kernel.cc:10] a warning"
REAL_ERROR = "E0000 00:00:1795914866.000000    4524 some_kernel.cc:99] OOM when allocating tensor"
FATAL = "F0000 00:00:1795914866.000000    4524 some_kernel.cc:99] Check failed: x == y"


def _lines(*lines: str) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def run_python(code: str, *, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the test process's environment minus the variables setup sets."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "HFECG_STDERR_FILTER")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


# ----------------------------------------------------------------------------- no side effects on import

def test_importing_the_package_has_no_side_effects():
    res = run_python("""
        import importlib, os, pkgutil, sys
        import optuna
        import sklearn  # sets KMP_* variables itself when imported: not the package's doing
        env, verbosity = dict(os.environ), optuna.logging.get_verbosity()
        import hfecg_bench
        # every module except the three that hold the Keras code (imported lazily, only to build or fit)
        skip = {"hfecg_bench.__main__", "hfecg_bench.models.deep_arch", "hfecg_bench.models.deep_train",
                "hfecg_bench.models.shallow_hf"}
        names = [m.name for m in pkgutil.walk_packages(hfecg_bench.__path__, "hfecg_bench.") if m.name not in skip]
        for name in names:
            importlib.import_module(name)
        assert "hfecg_bench.models.deep" in names and "hfecg_bench.cli" in names, names
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow imported"
        assert optuna.logging.get_verbosity() == verbosity, "optuna verbosity changed on import"
        assert dict(os.environ) == env, "environment changed on import"
        print("ok", len(names))
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok")


# ----------------------------------------------------------------------------- setup_runtime

def test_setup_runtime_is_idempotent_and_keeps_the_users_log_level():
    res = run_python("""
        import json, os, sys
        import optuna
        from hfecg_bench import runtime
        first = runtime.setup_runtime()
        proc, pipe = runtime._filter["proc"], runtime._filter["pipe"]
        second = runtime.setup_runtime()
        assert second == first, (first, second)
        assert runtime._filter["proc"] is proc and runtime._filter["pipe"] == pipe, "a second filter was started"
        assert "tensorflow" not in sys.modules, "setup_runtime imported TensorFlow"
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
        print(json.dumps(first), file=sys.stdout, flush=True)
        # level 1 (the user's): info lines dropped, warnings shown
        os.write(2, b"I0000 00:00:1795914860.795307    4524 port.cc:153] oneDNN custom operations are on.\\n")
        os.write(2, b"W0000 00:00:1795914860.795307    4524 some_kernel.cc:10] a warning\\n")
    """, env={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["env"]["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert info["stderr_filter"] == "installed"
    assert (info["tf_intra_op_threads"], info["tf_inter_op_threads"], info["deterministic"]) == (2, 1, True)
    assert "some_kernel.cc:10] a warning" in res.stderr
    assert "oneDNN" not in res.stderr


def test_setup_runtime_sets_level_2_by_default_and_quiet_false_touches_nothing():
    res = run_python("""
        import json, os
        import optuna
        from hfecg_bench.runtime import setup_runtime
        verbosity = optuna.logging.get_verbosity()
        loud = setup_runtime(quiet=False)
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ and optuna.logging.get_verbosity() == verbosity
        assert loud["stderr_filter"] is None and loud["env"] == {}
        print(json.dumps(setup_runtime()))
    """)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["env"] == {"TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_setup_runtime_rejects_bad_threads(threads):
    with pytest.raises(ParameterError, match="threads"):
        setup_runtime(threads=threads, quiet=False)


def test_filter_drops_known_harmless_lines_and_shows_real_errors_and_tracebacks():
    lines = [BANNER, ONEDNN, CUDART, CUINIT, UNBOUNDED, WARN, REAL_ERROR, FATAL]
    res = run_python(f"""
        import os, sys
        from hfecg_bench.runtime import setup_runtime
        assert setup_runtime()["stderr_filter"] == "installed"
        os.write(2, {_lines(*lines)!r})
        sys.stderr.write("progress 3/30\\r")
        raise RuntimeError("boom")
    """)
    assert res.returncode == 1
    assert REAL_ERROR in res.stderr and FATAL in res.stderr, res.stderr
    assert "progress 3/30" in res.stderr
    assert "Traceback (most recent call last)" in res.stderr and "RuntimeError: boom" in res.stderr
    assert [m.group(0) for m in NOISE.finditer(res.stderr)] == ["E0000 "], res.stderr  # only the real error


def test_filter_forwards_what_was_written_before_a_crash():
    res = run_python(f"""
        import os
        from hfecg_bench.runtime import setup_runtime
        setup_runtime()
        os.write(2, {_lines(ONEDNN, REAL_ERROR)!r})
        os.abort()
    """)
    assert res.returncode != 0
    assert REAL_ERROR in res.stderr and "oneDNN" not in res.stderr


# ----------------------------------------------------------------------------- the filter itself

def test_log_filter_levels():
    data = _lines(BANNER, ONEDNN, WARN, REAL_ERROR, FATAL)
    assert TFLogFilter(1).feed(data) == _lines(WARN, REAL_ERROR, FATAL)
    assert TFLogFilter(2).feed(data) == _lines(REAL_ERROR, FATAL)
    assert TFLogFilter(3).feed(data) == _lines(FATAL)
    assert TFLogFilter(0).feed(data) == data  # TF_CPP_MIN_LOG_LEVEL=0: everything


def test_log_filter_known_harmless_errors_only():
    # cuInit failing is only expected once TensorFlow said there is no CUDA driver
    assert TFLogFilter(2).feed(_lines(CUINIT)) == _lines(CUINIT)
    assert TFLogFilter(2).feed(_lines(CUDART, CUINIT, UNBOUNDED)) == b""
    other_attr = UNBOUNDED.replace("use_unbounded_threadpool", "some_other_attribute")
    assert TFLogFilter(2).feed(_lines(other_attr)) == _lines(other_attr)


def test_log_filter_partial_lines_and_continuations():
    f = TFLogFilter(2)
    assert f.feed(b"beats (hf): 7/30 syn007 (0.2 s)\r") == b"beats (hf): 7/30 syn007 (0.2 s)\r"
    assert f.feed(b"beats (hf): 8/30") == b"beats (hf): 8/30"  # not held back: it cannot become a log line
    half = len(ONEDNN) // 2
    assert f.feed(ONEDNN[:half].encode()) == b"" and f.pending
    assert f.feed(ONEDNN[half:].encode() + b"\nIteration 5\n") == b"Iteration 5\n"
    assert f.feed(b"I") == b"" and f.flush() == b"I"  # a held fragment is released unchanged
    # the second line of the CPU-feature message goes with the first; the same text on its own stays
    assert TFLogFilter(1).feed(_lines(CPU_GUARD, CPU_GUARD_2, "x")) == b"x\n"
    assert TFLogFilter(1).feed(_lines(CPU_GUARD_2)) == _lines(CPU_GUARD_2)


# ----------------------------------------------------------------------------- TensorFlow (one real import)

def test_configure_tensorflow_applies_threads_and_determinism_once_and_tensorflow_is_quiet():
    res = run_python("""
        import json, sys
        from hfecg_bench import runtime
        runtime.setup_runtime(threads=1)
        from hfecg_bench.models import deep_arch, deep_train  # noqa: F401  (imports TensorFlow, configures nothing)
        assert "tensorflow" in sys.modules and runtime._tf_state is None
        from tensorflow.python.framework import config as tf_config
        assert not tf_config.is_op_determinism_enabled()
        from hfecg_bench.models.deep import DEEP_SPECS
        model = deep_arch.build_model("cnn", (64, 2), DEEP_SPECS["cnn"].default_params("quick"))
        model.predict(__import__("numpy").zeros((4, 64, 2), "float32"), verbose=0)
        assert tf_config.is_op_determinism_enabled()
        state = runtime.configure_tensorflow()
        assert runtime.configure_tensorflow() == state
        print(json.dumps(state))
    """, timeout=240)
    assert res.returncode == 0, res.stderr
    state = json.loads(res.stdout.strip().splitlines()[-1])
    assert state == {"intra_op_threads": 1, "inter_op_threads": 1, "threads_applied": True, "op_determinism": True}
    assert not NOISE.search(res.stdout + res.stderr), res.stderr
