"""Run the command line: `python -m <package> <command>`, or `python src/<package> <command>`.

dvc.yaml's stages use the second form: it finds the package without an installed
environment, then moves into the project's .venv if `dvc` was started outside it.
"""

import importlib
import sys
from pathlib import Path

if __package__:
    from .cli import main
else:  # run as a folder, whose path Python put first: import the package from src/ instead
    here = Path(__file__).resolve().parent
    sys.path[:] = [path for path in sys.path if Path(path or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    importlib.import_module(f"{here.name}.environment").ensure(here.parent.parent)
    main = importlib.import_module(f"{here.name}.cli").main

if __name__ == "__main__":
    sys.exit(main())
