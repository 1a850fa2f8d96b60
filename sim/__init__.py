"""cocotb testbenches and the runner glue: Verilog generation and the Verilator build cache."""
