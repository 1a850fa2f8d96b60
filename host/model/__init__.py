"""The bit-exact integer model of the fixed-point datapath, vectorised with NumPy."""
