"""One module per DVC stage, found by the command line (`python -m <package> <stage>`).

Each holds a core function (its inputs and the typed params in, objects out) and a main()
that reads the paths dvc.yaml passes, calls the core and writes what it returns.
"""

import pkgutil


def names() -> list[str]:
    """The stages: the modules in this folder, named without importing them."""
    return sorted(
        module.name
        for module in pkgutil.iter_modules(__path__)
        if not module.ispkg and not module.name.startswith("_")
    )
