"""The dataflow core: serial-to-parallel, the vector updater and its per-vector step, parallel-to-serial, the
loosening control, and the core that joins them."""
