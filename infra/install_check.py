"""Tests the install logic of infra/lib.sh: each capability check passes on this
machine (after the prerequisites are in place) and fails on a deliberately broken
setup, and where nothing can be installed, the install step stops with one line that
names the Debian package and the command.

The broken setups are built on the PATH, never by removing a real package: a copy of
protoc that cannot see the include folder beside the real one, a `java` that reports
version 11, a `python3` whose venv module fails, a `node` that reports version 20.18 (Vite 7 and ESLint 10 need 20.19), and
a `chromium` that prints its version but cannot start. Each runs with a PATH that holds
no `apt-get` and no `sudo`, so nothing is ever installed.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from checklib import ROOT

LIB = ROOT / "infra" / "lib.sh"
HIDDEN = {"apt-get", "sudo"}


def run_lib(script: str, path: str) -> subprocess.CompletedProcess:
    """Sources lib.sh and runs `script` with the given PATH."""
    env = {**os.environ, "PATH": path}
    env.pop("PROTOC", None)
    env.pop("CHROMIUM", None)
    return subprocess.run(["bash", "-c", f'source "{LIB}"; {script}'], env=env,
                          capture_output=True, text=True, timeout=180)


def path_farm(folder: Path) -> Path:
    """A folder of links to every command on this PATH but apt-get and sudo: the same
    machine, with nothing that could install a package."""
    farm = folder / "farm"
    farm.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = farm / entry.name
            if entry.name in HIDDEN or target.exists() or target.is_symlink():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                target.symlink_to(entry.path)
    return farm


def fake(folder: Path, name: str, body: str) -> None:
    script = folder / name
    script.write_text("#!/bin/bash\n" + body)
    script.chmod(0o755)


def broken_setups(folder: Path) -> dict[str, Path]:
    """One folder per broken setup, each put before the farm on the PATH."""
    setups = {}

    def setup(name: str) -> Path:
        directory = folder / name
        directory.mkdir()
        setups[name] = directory
        return directory

    # protoc finds Google's .proto files in ../include next to its own binary; a copy
    # elsewhere sees none, exactly like a machine without libprotobuf-dev.
    shutil.copy2(shutil.which("protoc"), setup("protoc") / "protoc")
    fake(setup("java"), "java", 'echo \'openjdk version "11.0.20" 2023-07-18\' >&2\n')
    real_python = shutil.which("python3")
    fake(setup("python3"), "python3",
         'if [ "$1" = -m ] && [ "$2" = venv ]; then\n'
         '  echo "The virtual environment was not created successfully because ensurepip'
         ' is not available." >&2; exit 1\nfi\n'
         f'exec "{real_python}" "$@"\n')
    fake(setup("node"), "node", 'echo v20.18.3\n')
    fake(setup("chromium"), "chromium",
         'if [ "$1" = --version ]; then echo "Chromium 156.0.8078.73 built on Debian"; exit 0; fi\n'
         'echo "chromium: error while loading shared libraries: libnss3.so" >&2; exit 127\n')
    return setups


# capability check → (broken setup, the entry point that runs it, the package it names)
CASES = {
    "protoc_ok": ("protoc", "ensure_prerequisites", "libprotobuf-dev"),
    "venv_ok": ("python3", "ensure_prerequisites", "python3-venv"),
    "java_ok": ("java", "ensure_prerequisites", "openjdk-17-jre-headless"),
    "node_ok": ("node", "ensure_prerequisites", "nodejs npm"),
    "chromium_ok": ("chromium", "ensure_chromium", "chromium"),
}


def main() -> None:
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        farm = path_farm(folder)
        setups = broken_setups(folder)
        for check, (setup, entry, package) in CASES.items():
            healthy = run_lib(check, str(farm))
            if healthy.returncode != 0:
                failures.append(f"{check} fails on this machine's real setup")
            broken_path = f"{setups[setup]}{os.pathsep}{farm}"
            broken = run_lib(check, broken_path)
            if broken.returncode == 0:
                failures.append(f"{check} passes with a broken {setup}")
            stopped = run_lib(entry, broken_path)
            lines = stopped.stderr.strip().splitlines()
            if stopped.returncode == 0:
                failures.append(f"{entry} goes on with a broken {setup}")
            elif len(lines) != 1 or package not in lines[0] or "apt-get install" not in lines[0]:
                failures.append(f"{entry} with a broken {setup} should stop with one line naming "
                                f"'{package}' and the apt-get command, said: {stopped.stderr!r}")
            print(f"{check}: {'passes' if healthy.returncode == 0 else 'FAILS'} on the real setup, "
                  f"{'fails' if broken.returncode else 'PASSES'} with a broken {setup}; "
                  f"{entry} says: {lines[-1] if lines else '(nothing)'}")
    if failures:
        sys.exit("install checks:\n  " + "\n  ".join(failures))
    print("install checks: every capability check tells a working setup from a broken one")


if __name__ == "__main__":
    main()
