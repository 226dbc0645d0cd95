"""Diagnostics that tell a data limit from a model limit, each a finding with its evidence, and the verdict.

A finding is a dict ``{"kind", "summary", ...numbers..., "patients": [...]}``; the
verdict (:mod:`hfecg_bench.diagnostics.verdict`) reads only findings.
"""
