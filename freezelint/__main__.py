"""`python -m freezelint`: the `freezelint` command."""

import os
import sys

# `python -m` puts the current directory first on the import path, so a `click.py` or `libcst.py` of the project
# being linted would be imported (and run) instead of the real one. freezelint imports nothing from there.
# sys.flags.safe_path (-P) is new in Python 3.11: on 3.10 there is no such flag, so it is never set.
if sys.path and not getattr(sys.flags, "safe_path", False) and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from freezelint.cli import main  # noqa: E402 - after the import path is safe

if __name__ == "__main__":
    main(prog_name="freezelint")
