"""Model families behind one interface (:class:`~hfecg_bench.models.base.ModelSpec`)."""
