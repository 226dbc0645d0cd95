"""Explicit process setup: thread counts, op determinism and log levels.

Importing :mod:`hfecg_bench` (or any of its modules except the two that hold
Keras code, :mod:`hfecg_bench.models.deep_arch` and
:mod:`hfecg_bench.models.deep_train`) changes nothing outside the package: no
environment variable, no logging level, no thread pool. The command line and
:func:`hfecg_bench.run` call :func:`setup_runtime` once, before anything imports
TensorFlow; the deep models call :func:`configure_tensorflow` right before
their first build or fit.

What is set, and why (measured with TensorFlow 2.21, Keras 3.15, CPU only, on
``python -m hfecg_bench run dummy,leadwise_cnn --dataset synthetic --preset
hf_effect --n-patients 30 --duration 12 --folds 2``):

- ``TF_CPP_MIN_LOG_LEVEL=2`` (``os.environ.setdefault``: a value the user set
  wins) before TensorFlow loads: hides TensorFlow's own info and warning lines
  (``cpu_feature_guard.cc ... This TensorFlow binary is optimized ...``).
- TensorFlow 2.21 writes some lines through absl *before* it reads that
  variable, so no environment variable hides them (checked with levels 1-3):
  ``WARNING: All log messages before absl::InitializeLog() is called are
  written to STDERR``, ``I0000 ... port.cc:153] oneDNN custom operations are
  on ...`` and ``I0000 ... cudart_stub.cc:31] Could not find cuda drivers ...``
  (each twice: two shared libraries log them), and the error lines ``E0000 ...
  cuda_platform.cc:52] failed call to cuInit`` (on a machine without a CUDA
  driver) and ``E0000 ... node_def_util.cc:682] NodeDef mentions attribute
  use_unbounded_threadpool which is not in the op definition ... Unknown
  attributes will be ignored`` (once per fit). The last one comes from op
  determinism: tf.data's determinism rewrite turns Keras' parallel map into a
  plain ``MapDataset`` and copies an attribute that op does not declare (it is
  gone when determinism is off, which would change the numbers).
  ``TF_ENABLE_ONEDNN_OPTS=0`` would silence the oneDNN line but changes the
  predictions (``predictions.csv`` differs), and ``TF_ENABLE_ONEDNN_OPTS=1``
  does not silence it, so it is left alone. What remains is filtered:
  ``setup_runtime(quiet=True)`` points file descriptor 2 at a pipe read by a
  small helper process (:class:`TFLogFilter`) that forwards every byte except
  absl-format lines below the ``TF_CPP_MIN_LOG_LEVEL`` in effect (``I`` at
  level >= 1, ``W`` at >= 2, ``E`` at >= 3), the absl banner, and two known
  harmless error lines: the ``use_unbounded_threadpool`` one, and ``failed call
  to cuInit`` only after the ``Could not find cuda drivers`` line. Any other
  ``E`` line, ``F`` (fatal) lines, Python warnings and tracebacks pass
  unchanged, and partial lines (progress output ending in ``\\r``) are not held
  back. A process, not a thread: if TensorFlow aborts, the helper still
  forwards what was written before the crash. ``TF_CPP_MIN_LOG_LEVEL=0`` turns
  the filtering off. POSIX only.
- Optuna's verbosity is set to WARNING (one line per trial otherwise).
- TensorFlow threads and op determinism: intra-op threads 2 (or
  ``HFECG_TF_THREADS``, or ``threads``), inter-op 1,
  ``tf.config.experimental.enable_op_determinism()``, applied once by
  :func:`configure_tensorflow`. These are the settings importing
  ``deep_arch`` used to apply; predictions are byte-identical to those runs.
- BLAS / OpenMP pools are left alone unless ``threads`` is given: limiting them
  can change summation order, hence the numbers of runs made without a limit.
"""
from __future__ import annotations

import atexit
import inspect
import logging
import operator
import os
import re
import select
import signal
import subprocess
import sys
import textwrap

import optuna
import threadpoolctl

from hfecg_bench.errors import ParameterError

__all__ = ["setup_runtime", "configure_tensorflow", "tf_threads", "TFLogFilter"]

#: Environment variables :func:`setup_runtime` sets (``setdefault``) before TensorFlow loads when ``quiet``.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
#: Default TensorFlow intra-op threads (``HFECG_TF_THREADS`` overrides); inter-op is always 1.
DEFAULT_TF_THREADS = 2
#: Marks a process whose fd 2 is already the filter's pipe (``"<st_dev>:<st_ino>"``), for child processes.
FILTER_ENV = "HFECG_STDERR_FILTER"

_settings: dict | None = None      # what setup_runtime decided (None: never called)
_tf_state: dict | None = None      # what configure_tensorflow applied (None: not yet)
_filter: dict | None = None        # the helper process, the saved fd 2 and the pipe's identity
_atexit_registered = False


class TFLogFilter:
    r"""Drops TensorFlow's known-harmless C++ log lines from a byte stream; everything else passes unchanged.

    Parameters
    ----------
    min_level : int
        The ``TF_CPP_MIN_LOG_LEVEL`` in effect. Absl-format lines
        (``I0000 00:00:1795914860.795307    4524 port.cc:153] message``) are
        dropped below it: ``I`` at ``min_level >= 1``, ``W`` at ``>= 2``,
        ``E`` at ``>= 3``; ``F`` never. At ``0`` nothing is dropped.
        Whatever the level (``>= 1``), also dropped: the absl banner ``WARNING:
        All log messages before absl::InitializeLog() ...``, the error
        ``NodeDef mentions attribute use_unbounded_threadpool which is not in
        the op definition`` and, once ``Could not find cuda drivers`` was seen,
        ``failed call to cuInit``.

    Notes
    -----
    Lines end at ``\n`` or a lone ``\r``. A trailing partial line is held back
    (:attr:`pending`) only while it could still become a dropped line;
    :meth:`flush` releases it unchanged.

    Examples
    --------
    >>> f = TFLogFilter(2)
    >>> f.feed(b"I0000 00:00:1795914860.795307    4524 port.cc:153] oneDNN custom operations are on.\n"
    ...        b"progress 3/30\r")
    b'progress 3/30\r'
    >>> f.feed(b"E0000 00:00:1795914865.224817    4524 some_op.cc:12] a real error\n")
    b'E0000 00:00:1795914865.224817    4524 some_op.cc:12] a real error\n'
    """

    BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    LOG_LINE = re.compile(rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ ([\w.+-]+):\d+\] (.*)", re.DOTALL)
    PARTIAL_LOG = re.compile(rb"[IWE](?:\d{0,3}|\d{4}(?: .*)?)$", re.DOTALL)
    SEGMENT_END = re.compile(rb"(?<=\n)|(?<=\r)(?!\n)")
    CONTINUATION = b"To enable the following instructions:"
    MAX_PENDING = 16384

    def __init__(self, min_level: int):
        self.min_level = int(min_level)
        self.pending = b""
        self._no_cuda_driver = False
        self._after_cpu_guard = False

    def feed(self, data: bytes) -> bytes:
        """The bytes of ``data`` (after any held-back partial line) that pass the filter."""
        segments = self.SEGMENT_END.split(self.pending + data)
        tail = segments.pop()
        out = [s for s in segments if not self._drop(s)]
        if tail and len(tail) < self.MAX_PENDING and self._could_be_dropped(tail):
            self.pending = tail
        else:
            self.pending = b""
            out.append(tail)
        return b"".join(out)

    def flush(self) -> bytes:
        """Release a held-back partial line unchanged."""
        out, self.pending = self.pending, b""
        return out

    def _could_be_dropped(self, partial: bytes) -> bool:
        if self.min_level <= 0:
            return False
        return bool(self.PARTIAL_LOG.match(partial)) or self.BANNER.startswith(partial) or (
            self._after_cpu_guard and self.CONTINUATION.startswith(partial[:len(self.CONTINUATION)]))

    def _drop(self, segment: bytes) -> bool:
        if self.min_level <= 0:
            return False
        line = segment.rstrip(b"\r\n")
        after_cpu_guard, self._after_cpu_guard = self._after_cpu_guard, False
        if line == self.BANNER:
            return True
        m = self.LOG_LINE.match(line)
        if m is None:
            # the second line of cpu_feature_guard's message ("To enable the following instructions: AVX2 ...")
            return after_cpu_guard and line.startswith(self.CONTINUATION)
        severity, source, message = m.group(1), m.group(2), m.group(3)
        if source == b"cudart_stub.cc" and message.startswith(b"Could not find cuda drivers"):
            self._no_cuda_driver = True
        level = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}[severity]
        drop = level < min(self.min_level, 3) or (level == 2 and self._known_harmless_error(source, message))
        self._after_cpu_guard = drop and source == b"cpu_feature_guard.cc"
        return drop

    def _known_harmless_error(self, source: bytes, message: bytes) -> bool:
        if source == b"node_def_util.cc":
            # tf.data's op-determinism rewrite copies this attribute onto an op that lacks it; TF ignores it
            return message.startswith(b"NodeDef mentions attribute use_unbounded_threadpool which is not in the op")
        if source == b"cuda_platform.cc":
            return self._no_cuda_driver and message.startswith(b"failed call to cuInit")
        return False


def _pump(fd_in: int, fd_out: int, min_level: int, hold_seconds: float = 0.05) -> None:
    """The helper process's loop: filter ``fd_in`` into ``fd_out`` until end of file."""
    # Ctrl-C and a TERM to the process group reach this process too: keep forwarding until the writers are gone
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    filt = TFLogFilter(min_level)
    writable = True
    while True:
        ready, _, _ = select.select([fd_in], [], [], hold_seconds if filt.pending else None)
        data = os.read(fd_in, 65536) if ready else None
        out = filt.flush() if not data else filt.feed(data)
        while out and writable:
            try:
                out = out[os.write(fd_out, out):]
            except OSError:  # the original stderr is gone: keep draining so writers never block
                writable = False
        if data == b"":
            return


def _helper_source() -> str:
    """Python source of the helper process: :class:`TFLogFilter` and :func:`_pump`, standard library only."""
    return "\n".join([
        "import os, re, select, signal, sys",
        textwrap.dedent(inspect.getsource(TFLogFilter)),
        textwrap.dedent(inspect.getsource(_pump)),
        "_pump(0, 2, int(sys.argv[1]))",
    ])


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _pipe_id(fd: int) -> str:
    try:
        st = os.fstat(fd)
    except OSError:  # closed
        return ""
    return f"{st.st_dev}:{st.st_ino}"


def _install_stderr_filter() -> str:
    """Route fd 2 through the helper process; return ``installed``, ``inherited``, ``off`` or ``unsupported``."""
    global _filter, _atexit_registered
    if _filter is not None:
        if _pipe_id(2) == _filter["pipe"] and _filter["proc"].poll() is None:
            return "installed"
        _remove_stderr_filter(timeout=1.0)  # fd 2 was redirected since (e.g. by pytest's capture): start over
    if os.name != "posix":
        return "unsupported"
    if os.environ.get(FILTER_ENV) and os.environ[FILTER_ENV] == _pipe_id(2):
        return "inherited"  # a child process whose stderr already goes through its parent's filter
    level = _min_log_level()
    if level <= 0:
        return "off"
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _helper_source(), str(level)],
                                stdin=read_end, stdout=subprocess.DEVNULL, stderr=saved, close_fds=True)
    except (OSError, TypeError, ValueError):  # no interpreter to start, or no source to give it
        for fd in (read_end, write_end, saved):
            os.close(fd)
        return "unsupported"
    os.close(read_end)
    os.dup2(write_end, 2)  # inheritable: child processes (worker pools) write through the filter too
    os.close(write_end)
    pipe = _pipe_id(2)
    os.environ[FILTER_ENV] = pipe
    if not _atexit_registered:
        atexit.register(_remove_stderr_filter)
        _atexit_registered = True
    _filter = {"proc": proc, "saved": saved, "pipe": pipe}
    return "installed"


def _remove_stderr_filter(timeout: float = 5.0) -> None:
    """Point fd 2 back at the original stderr and let the helper forward what is left (at exit)."""
    global _filter
    if _filter is None:
        return
    state, _filter = _filter, None
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    if _pipe_id(2) == state["pipe"]:  # unless someone has redirected fd 2 since
        os.dup2(state["saved"], 2)
    os.close(state["saved"])
    if os.environ.get(FILTER_ENV) == state["pipe"]:
        del os.environ[FILTER_ENV]
    try:
        state["proc"].wait(timeout)  # end of file once this process (and its children) stop writing
    except subprocess.TimeoutExpired:
        pass


def _tf_threads(threads: int | None) -> int:
    if threads is not None:
        return int(threads)
    value = os.environ.get("HFECG_TF_THREADS", str(DEFAULT_TF_THREADS))
    try:
        n = int(value)
    except ValueError:
        raise ParameterError("HFECG_TF_THREADS", value, "an integer >= 1") from None
    if n < 1:
        raise ParameterError("HFECG_TF_THREADS", value, "an integer >= 1")
    return n


def tf_threads() -> int:
    """TensorFlow intra-op threads of this process's runs: ``threads`` of :func:`setup_runtime`, else
    ``HFECG_TF_THREADS``, else 2. Parallel runs give their workers this count, since it changes the
    predictions of the deep models (:mod:`hfecg_bench.pipeline.units`).

    >>> tf_threads() >= 1
    True
    """
    return _tf_threads((_settings or {}).get("threads"))


def setup_runtime(*, threads: int | None = None, deterministic: bool = True, quiet: bool = True) -> dict:
    """Set up this process for a benchmark run: log levels, thread counts, determinism.

    Call it once, before anything imports TensorFlow (the command line and
    :func:`hfecg_bench.run` do). Calling it again changes nothing that is
    already set; TensorFlow's threads and determinism are applied later, once,
    by :func:`configure_tensorflow` (TensorFlow accepts thread counts only
    before it first runs). It does not import TensorFlow.

    Parameters
    ----------
    threads : int or None, default None
        Threads for numeric libraries: TensorFlow's intra-op pool and, only when
        given, the BLAS / OpenMP pools (``threadpoolctl``, and
        ``OMP_NUM_THREADS`` for libraries and processes started later, unless
        set). ``None``: TensorFlow intra-op ``HFECG_TF_THREADS`` or 2, BLAS left
        alone (so numbers match runs made without a limit). TensorFlow's
        inter-op pool is always 1.
    deterministic : bool, default True
        Enable TensorFlow op determinism (same seed, same weights).
    quiet : bool, default True
        Set ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it, filter the
        TensorFlow C++ lines no environment variable hides (see the module
        notes; real errors and tracebacks still show) and set Optuna's
        verbosity to WARNING.

    Returns
    -------
    dict
        What was set, JSON-serialisable, for the run manifest: ``threads``,
        ``deterministic``, ``quiet``, ``tf_intra_op_threads``,
        ``tf_inter_op_threads``, ``blas_threads``, ``env`` (the values in effect
        of the variables managed here), ``stderr_filter`` (``installed``,
        ``inherited``, ``off``, ``unsupported`` or ``None``) and
        ``optuna_verbosity``.

    Raises
    ------
    ParameterError
        ``threads`` is not an integer >= 1 (or ``HFECG_TF_THREADS`` is not).

    Examples
    --------
    >>> info = setup_runtime(quiet=True)
    >>> info["tf_inter_op_threads"], info["deterministic"], info["optuna_verbosity"]
    (1, True, 'WARNING')
    >>> setup_runtime(quiet=True) == info
    True
    """
    global _settings
    if threads is not None:
        try:
            if isinstance(threads, bool):
                raise TypeError
            threads = operator.index(threads)
        except TypeError:
            raise ParameterError("threads", threads, "an integer >= 1, or None") from None
        if threads < 1:
            raise ParameterError("threads", threads, "an integer >= 1, or None")
    tf_intra_op_threads = _tf_threads(threads)
    # every step below is idempotent, so a second call returns the same and re-checks the stderr filter
    env = {}
    if quiet:
        for key, value in QUIET_ENV.items():
            env[key] = os.environ.setdefault(key, value)
    blas_threads = None
    if threads is not None:
        env["OMP_NUM_THREADS"] = os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        threadpoolctl.threadpool_limits(limits=threads)  # pools already loaded (numpy's BLAS, OpenMP)
        blas_threads = threads
    stderr_filter = _install_stderr_filter() if quiet else (_settings or {}).get("stderr_filter")
    optuna_verbosity = None
    if quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna_verbosity = logging.getLevelName(optuna.logging.get_verbosity())
    _settings = {
        "threads": threads, "deterministic": bool(deterministic), "quiet": bool(quiet),
        "tf_intra_op_threads": tf_intra_op_threads, "tf_inter_op_threads": 1, "blas_threads": blas_threads,
        "env": env, "stderr_filter": stderr_filter, "optuna_verbosity": optuna_verbosity,
    }
    return dict(_settings, env=dict(env))


def configure_tensorflow() -> dict:
    """Apply TensorFlow's thread counts and op determinism, once; imports TensorFlow.

    The deep models call this right before their first build or fit. It uses
    the settings of :func:`setup_runtime` (or its defaults when it was not
    called: intra-op threads ``HFECG_TF_THREADS`` or 2, inter-op 1, op
    determinism on). If TensorFlow already ran something before, its thread
    counts cannot change any more and are kept (``threads_applied`` False).

    Returns
    -------
    dict
        ``intra_op_threads``, ``inter_op_threads``, ``threads_applied``,
        ``op_determinism``.
    """
    global _tf_state
    if _tf_state is not None:
        return dict(_tf_state)
    import tensorflow as tf  # heavy (seconds, hundreds of MB): only once a deep model is built or fitted

    settings = _settings or {"threads": None, "deterministic": True}
    intra, inter = _tf_threads(settings["threads"]), 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
        applied = True
    except RuntimeError:  # TensorFlow already initialised by someone else: keep its setting
        applied = False
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    _tf_state = {"intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                 "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
                 "threads_applied": applied, "op_determinism": bool(settings["deterministic"])}
    return dict(_tf_state)
