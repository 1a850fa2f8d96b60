"""The arithmetic units: products, normalisation, tables and polynomials, 1/√x, 1/x, the scale, the squared
distance and running minimum, the repulsion weight and the force product — each with its bit-exact model."""
