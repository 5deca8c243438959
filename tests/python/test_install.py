"""`pip install` of python/ into a temporary venv works offline (no build isolation, no index:
setuptools from the project's .venv), and the installed package finds libkestrel through
KESTREL_LIBRARY, or next to itself when the library was copied into the package before the
install (it then ships inside the wheel). The ctypes structs match kestrel.h (offsets and
sizes, compiled with the C compiler when there is one)."""
import ctypes
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

import kestrel
from kestrel import _lib
from conftest import SRC


def test_pip_install_offline(tmp_path):
    src = tmp_path / "src"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(os.path.join(SRC, "python"), src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                   "__pycache__", "*.so*"))
    shutil.copy(kestrel.library_path, src / "kestrel" / "libkestrel.so")  # -> "next to the package"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(purelib, "project_venv.pth"), "w") as f:  # numpy and setuptools of the project venv
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--disable-pip-version-check",
                        "--no-build-isolation", "--no-deps", "--no-index", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    probe = ("import kestrel; print(kestrel.__file__); print(kestrel.library_path); "
             "print(kestrel.Llama.system_info())")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KESTREL_LIBRARY")}
    for lib_env, expect in ((kestrel.library_path, kestrel.library_path), (None, "site-packages")):
        e = dict(env, KESTREL_LIBRARY=lib_env) if lib_env else env
        r = subprocess.run([py, "-c", probe], capture_output=True, text=True, cwd=str(tmp_path), env=e)
        assert r.returncode == 0, r.stderr[-2000:]
        mod, path, info = r.stdout.splitlines()
        assert mod.startswith(purelib) and expect in path and "|" in info, r.stdout
    e = dict(env, KESTREL_LIBRARY=str(tmp_path / "nowhere.so"))
    r = subprocess.run([py, "-c", "import kestrel"], capture_output=True, text=True, cwd=str(tmp_path), env=e)
    assert r.returncode != 0 and "KESTREL_LIBRARY" in r.stderr and "nowhere.so" in r.stderr


def test_structs_match_the_header(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to read kestrel.h's layouts")
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "kestrel.h"', "int main(void) {"]
    expect = []
    for s in _lib.STRUCTS:
        lines.append('printf("%%zu\\n", sizeof(%s));' % s.c_name)
        expect.append(("sizeof", s.c_name, ctypes.sizeof(s)))
        for name, _t in s._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (s.c_name, name))
            expect.append((s.c_name, name, getattr(s, name).offset))
    lines.append("return 0; }")
    (tmp_path / "layout.c").write_text("\n".join(lines))
    exe = str(tmp_path / "layout")
    subprocess.run([cc, "-std=c11", "-I", os.path.join(SRC, "include"), str(tmp_path / "layout.c"), "-o", exe],
                   check=True)
    got = [int(x) for x in subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split()]
    bad = [(what, name, ours, theirs) for (what, name, ours), theirs in zip(expect, got) if ours != theirs]
    assert not bad and len(got) == len(expect), "ctypes vs kestrel.h (what, field, ctypes, C): %s" % bad

