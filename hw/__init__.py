"""Gateware (Amaranth): fixed-point units, S/P converter, vector updater, P/S converter, core, UART, board top."""
