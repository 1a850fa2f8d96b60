"""Board configurations (platform, Nmax, Dmax, format, lanes, clock), build and flash."""
