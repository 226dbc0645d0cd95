"""`run` subcommand (placeholder until its issue lands)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("run", help="run (not yet available)")
    p.set_defaults(handler=lambda args: (_ for _ in ()).throw(NotImplementedError("run")))
