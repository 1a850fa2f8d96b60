"""Sweeps: independent starts on worker processes (:mod:`.starts`), the iterated search (:mod:`.search`)
and tables over a range of N on Dask (:mod:`.table`)."""
