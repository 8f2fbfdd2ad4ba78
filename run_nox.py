#!/usr/bin/env python3
"""Run the book's nox sessions from a private virtual environment.

    python3 run_nox.py             # every check: lint, the tests, the site's build
    python3 run_nox.py -s serve    # build the site, serve it on http://127.0.0.1:8000

Needs nothing but Python 3.11 or newer. On first use it creates `.venv-nox/` with
the `nox` dependency group of pyproject.toml; every argument goes to nox unchanged.
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv-nox"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / "installed.txt"


def nox_requirements():
    import tomllib

    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    return groups["nox"]


def create_venv():
    try:
        venv.create(VENV, with_pip=True, clear=True)
    except (OSError, subprocess.CalledProcessError):
        # Debian splits ensurepip out of Python itself.
        package = f"python3.{sys.version_info.minor}-venv"
        if shutil.which("apt-get") and os.geteuid() == 0:
            subprocess.run(["apt-get", "install", "-y", package], check=True)
            venv.create(VENV, with_pip=True, clear=True)
        else:
            sys.exit(f"run_nox.py needs the venv module: install the package {package}")


def ensure_nox():
    wanted = "\n".join(nox_requirements())
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    print(f"run_nox.py: installing nox into {VENV.name}/", flush=True)
    create_venv()
    pip = [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *nox_requirements()], check=True)
    STAMP.write_text(wanted)


def main():
    if sys.version_info < (3, 11):  # noqa: UP036 (say so, rather than fail oddly)
        sys.exit("The book needs Python 3.11 or newer.")
    ensure_nox()
    os.chdir(ROOT)
    command = [str(PYTHON), "-m", "nox", *sys.argv[1:]]
    if os.name == "nt":
        sys.exit(subprocess.run(command).returncode)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
