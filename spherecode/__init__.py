"""spherecode: spherical codes by the variable-repulsion-force method, in software and in hardware."""

__version__ = "0.2.0"
