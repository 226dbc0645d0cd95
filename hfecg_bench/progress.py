"""A one-line progress indicator for long steps (reading records, features, beats), on stderr.

Any callable ``progress(i, n, name)`` can be passed where the package takes ``progress``;
this is the one the command line and :func:`hfecg_bench.run` use.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> p = Progress("features", stream=out)
>>> for i in range(3):
...     p(i, 3, f"rec{i}")
>>> out.getvalue().splitlines()[-1].startswith("features: 3/3 rec2")
True
"""
from __future__ import annotations

import sys
import time


class Progress:
    """``label: i/n name (elapsed)``, updated at most 5 times a second (every tenth step when not a terminal).

    Parameters
    ----------
    label : str
        What is progressing, e.g. ``"features"``.
    stream : file-like, default sys.stderr
    """

    def __init__(self, label: str, stream=None):
        self.label, self.stream = label, stream or sys.stderr
        self.t0 = self._last = time.monotonic()
        self.shown = False

    def _tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, i: int, n: int, name: str = "") -> None:
        now = time.monotonic()
        last = i + 1 >= n
        if now - self._last < 0.2 and not last:
            return
        tty = self._tty()
        if not tty and (i % max(1, n // 10)) and not last:
            return
        self._last = now
        self.shown = True
        print(f"{self.label}: {i + 1}/{n} {name} ({now - self.t0:.1f} s)", end="\r" if tty else "\n",
              file=self.stream, flush=True)

    def done(self, message: str | None = None) -> None:
        """End the line with ``message`` (default ``done``) when anything was shown or a message is given."""
        if self.shown or message:
            print(f"{self.label}: {message or 'done'} ({time.monotonic() - self.t0:.1f} s)" + " " * 20,
                  file=self.stream, flush=True)
