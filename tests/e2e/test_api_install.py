"""libkestrel as others embed it: `cmake --install` into a temporary prefix gives the header,
libkestrel.so (SONAME libkestrel.so.0) and libkestrel.a, kestrel.pc and the CMake package
Kestrel::kestrel. The shared library exports exactly the KS_API declarations of kestrel.h (nm).
examples/simple.c built against the prefix with pkg-config alone, against libkestrel.a, and
through find_package(Kestrel) in a tiny CMake project prints what `kestrel generate --temp 0`
prints for the same prompt on SmolLM2 (byte for byte); examples/batched.c --greedy gives that
same text in every sequence forked from the shared prompt."""
import os, re, shlex, subprocess, tempfile
from ks_e2e import BIN, SRC, check, done, need_model, run

BUILD = os.path.dirname(os.path.abspath(BIN))
SAN = os.environ.get("KS_SANITIZED") == "1"
SAN_FLAGS = ["-fsanitize=address,undefined"] if SAN else []
PROMPT, N = "The capital of France is", "12"
model = need_model()


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


def api_names():
    text = open(os.path.join(SRC, "include", "kestrel.h"), encoding="utf-8").read()
    return set(re.findall(r"KS_API\s[^;{]*?\b(ks_\w+)\s*\(", text))


want = run(["generate", "-m", model, "-n", N, "--temp", "0", "-p", PROMPT])
check(want.returncode == 0 and want.stdout, "kestrel generate: %s" % want.stderr[-300:])
want_text = want.stdout.decode("utf-8", "replace")

with tempfile.TemporaryDirectory() as tmp:
    prefix = os.path.join(tmp, "prefix")
    r = sh(["cmake", "--install", BUILD, "--prefix", prefix])
    check(r.returncode == 0, "cmake --install: %s" % (r.stdout + r.stderr)[-800:])
    lib = os.path.join(prefix, "lib")
    for f in ["include/kestrel.h", "lib/libkestrel.so", "lib/libkestrel.so.0", "lib/libkestrel.a",
              "lib/pkgconfig/kestrel.pc", "lib/cmake/Kestrel/KestrelConfig.cmake",
              "lib/cmake/Kestrel/KestrelConfigVersion.cmake", "lib/cmake/Kestrel/KestrelTargets.cmake", "bin/kestrel"]:
        check(os.path.exists(os.path.join(prefix, f)), "installed: " + f)
    so = os.path.join(lib, "libkestrel.so")
    r = sh(["objdump", "-p", so])
    check(re.search(r"SONAME\s+libkestrel\.so\.0\b", r.stdout) is not None, "SONAME libkestrel.so.0")
    # exactly the API: every defined dynamic symbol is a KS_API declaration and every declaration is there
    r = sh(["nm", "-D", "--defined-only", so])
    exported = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}
    names = api_names()
    check(len(names) > 100, "KS_API declarations parsed from kestrel.h: %d" % len(names))
    check(not exported - names, "exported outside the API: %s" % sorted(exported - names)[:20])
    check(not names - exported, "declared but not exported: %s" % sorted(names - exported)[:20])
    r = sh([os.path.join(prefix, "bin", "kestrel"), "--version"])
    check(r.returncode == 0 and "kestrel" in r.stdout, "installed kestrel runs (RPATH): %s" % r.stderr[-300:])

    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(lib, "pkgconfig"))
    simple_c = os.path.join(SRC, "examples", "simple.c")

    def same_as_cli(exe, how, run_env=None):
        r = sh([exe, "-m", model, "-n", N, PROMPT], env=run_env)
        check(r.returncode == 0, "%s runs: %s" % (how, r.stderr[-500:]))
        check(r.stdout == want_text, "%s: %r, kestrel generate: %r" % (how, r.stdout, want_text))

    # 1. pkg-config alone
    flags = sh(["pkg-config", "--cflags", "--libs", "kestrel"], env=env)
    check(flags.returncode == 0 and "-lkestrel" in flags.stdout, "pkg-config kestrel: %s" % flags.stderr)
    exe = os.path.join(tmp, "simple_pc")
    r = sh(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", simple_c, "-o", exe] + SAN_FLAGS +
           shlex.split(flags.stdout), env=env)
    if check(r.returncode == 0, "cc simple.c $(pkg-config --cflags --libs kestrel): %s" % r.stderr[-800:]):
        same_as_cli(exe, "simple (pkg-config, libkestrel.so)", dict(os.environ, LD_LIBRARY_PATH=lib))
    # 2. the static archive (its dependencies from pkg-config --static)
    static = sh(["pkg-config", "--static", "--cflags", "--libs", "kestrel"], env=env)
    exe = os.path.join(tmp, "simple_static")
    extra = [f for f in shlex.split(static.stdout) if f != "-lkestrel"]
    r = sh(["cc", simple_c, "-o", exe, os.path.join(lib, "libkestrel.a")] + SAN_FLAGS + extra, env=env)
    if check(r.returncode == 0, "cc simple.c libkestrel.a $(pkg-config --static ...): %s" % r.stderr[-800:]):
        same_as_cli(exe, "simple (libkestrel.a)")
    # 3. find_package(Kestrel) in a tiny CMake project
    proj = os.path.join(tmp, "proj")
    os.makedirs(proj)
    with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
        f.write("cmake_minimum_required(VERSION 3.20)\nproject(use_kestrel C)\n"
                "find_package(Kestrel 0.1 REQUIRED)\nadd_executable(simple %s)\n"
                "target_link_libraries(simple PRIVATE Kestrel::kestrel)\n" % simple_c)
    cfg = ["cmake", "-S", proj, "-B", os.path.join(proj, "b"), "-DCMAKE_PREFIX_PATH=" + prefix]
    if SAN:
        cfg.append("-DCMAKE_C_FLAGS=" + " ".join(SAN_FLAGS))
    r = sh(cfg)
    if check(r.returncode == 0, "cmake configure with find_package(Kestrel): %s" % (r.stdout + r.stderr)[-800:]):
        r = sh(["cmake", "--build", os.path.join(proj, "b")])
        if check(r.returncode == 0, "cmake --build: %s" % (r.stdout + r.stderr)[-800:]):
            same_as_cli(os.path.join(proj, "b", "simple"), "simple (find_package(Kestrel))")

# batched: every greedy sequence forked from the shared prompt continues it as one sequence does
r = sh([os.path.join(BUILD, "batched"), "-m", model, "-n", N, "-np", "3", "--greedy", PROMPT])
check(r.returncode == 0, "batched runs: %s" % r.stderr[-500:])
seqs = re.findall(r"^sequence (\d+): (.*?)(?=^sequence \d+: |\Z)", r.stdout, re.M | re.S)
check([s[0] for s in seqs] == ["0", "1", "2"], "batched prints 3 sequences: %r" % r.stdout[:300])
for i, text in seqs:
    check(text[:-1] == want_text, "batched sequence %s: %r, kestrel generate: %r" % (i, text[:-1], want_text))
r = sh([os.path.join(BUILD, "batched"), "-m", model, "-n", "8", "-np", "2", PROMPT])
check(r.returncode == 0 and r.stdout.count("sequence ") == 2, "batched (sampling) runs: %s" % r.stderr[-300:])
done()
