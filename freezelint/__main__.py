"""`python -m freezelint`: the `freezelint` command."""

import os
import sys

# `python -m` puts the current directory first on the import path, so a `click.py` or `libcst.py` of the project
# being linted would be imported (and run) instead of the real one. freezelint imports nothing from there.
if sys.path and not sys.flags.safe_path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from freezelint.cli import main  # noqa: E402 - after the import path is safe

if __name__ == "__main__":
    main(prog_name="freezelint")
