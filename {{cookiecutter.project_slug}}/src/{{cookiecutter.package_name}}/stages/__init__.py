"""One module per DVC stage: a pure core function and a thin main() that does the I/O."""
