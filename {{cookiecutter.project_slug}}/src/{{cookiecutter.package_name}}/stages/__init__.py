"""One module per DVC stage, found by the command line (`python -m <package> <stage>`).

Each holds a core function, inputs then the typed params in, objects out, and a main()
that reads the paths dvc.yaml passes, calls the core and writes what it returns.
"""
