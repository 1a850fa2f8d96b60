"""``spherecode compare``: the co-design report — software against hardware in speed, energy and quality
(the paper's Figure 3, Table II and Figure 4; Stanojević, Šenk, Milutinović, §III.C and §IV).

:func:`~.measure.compare` measures and models everything and returns the report as one JSON-able dict;
:func:`~.markdown.write_report` turns it into ``report.md``, ``report.json`` and figures (PNG and SVG) in a folder,
all files written to a temporary folder first and moved into place only when complete.

- **Time per update** (the paper's iteration: steps 1–5 for all N vectors; a force-loosening iteration is
  two). Software: the float64 reference measured here on one thread (BLAS held to one thread: the paper's
  baseline) and on all cores. Hardware, per board: :func:`~spherecode.host.reports.hwtime.update_time` (the core's
  cycle formula at the board's clock plus the protocol's bytes at its baud rate; host-run loosening). Two
  checks in the same run: the formula against the simulated RTL's cycle counter, and the link model's byte
  count against one exchange with the board's twin (bytes counted on its pty, and its core's counter).
- **Whole runs** of K force-loosening iterations (two updates each): software as 2K times its measured
  time per update; per board, host-run loosening (2K modelled updates, each a full exchange) and, on a board
  whose core loosens on chip, :func:`~spherecode.host.reports.hwtime.chip_run_time` (the run's exact cycle formula
  plus one exchange).
- **Energy** per update and per pair: CPU power from RAPL where readable, else a per-core figure; board
  power from :mod:`~spherecode.host.reports.power`'s model. Each figure is labelled measured or modelled.
- **Quality**: best of S starts of force loosening for each (D, N), in float64 and in the bit-exact model
  in Q3.44 and in each board's format, beside the best-known codes.
- **Formats and lanes**: per board, lanes, clock, post-route fmax (the last ``spherecode build`` report
  under ``build/NAME/``, or the board's shipped build record, saying which), pairs/s and the quality
  the board's format costs against float64.

Modules: :mod:`.options`, :mod:`.measure` (with :mod:`.checks`), :mod:`.speedups`, :mod:`.figures`,
:mod:`.markdown`, :mod:`.command`; the hardware's time model :mod:`.hwtime` and the power model :mod:`.power`.
"""
