"""kestrel.h stands alone: it compiles by itself as C99 and as C++11 with every warning an
error (-pedantic), and the CLI includes nothing but it (and its own cli.h): no internal
header from src/ (the API is complete by construction: the CLI links libkestrel.so, which
exports kestrel.h's declarations only)."""
import os, re, shutil, subprocess, tempfile
from ks_e2e import SRC, check, done

HEADER = os.path.join(SRC, "include", "kestrel.h")


def compiles(compiler, std, lang):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "one." + ("cpp" if lang == "c++" else "c"))
        with open(src, "w") as f:  # the header alone, then a use of a few of its types and calls
            f.write('#include "kestrel.h"\nint main(void) {\n'
                    '    ks_err err = {KS_OK, {0}};\n'
                    '    ks_context_params cp = ks_context_default_params();\n'
                    '    ks_batch b;\n'
                    '    (void)cp;\n'
                    '    if (ks_batch_init(&b, 4, &err) != KS_OK) return 1;\n'
                    '    ks_batch_free(&b);\n'
                    '    return ks_version()[0] ? 0 : 1;\n}\n')
        r = subprocess.run([compiler, "-std=" + std, "-Wall", "-Wextra", "-Werror", "-pedantic",
                            "-I", os.path.dirname(HEADER), "-c", src, "-o", os.path.join(d, "one.o")],
                           capture_output=True, text=True)
        # the header itself as the translation unit, too
        r2 = subprocess.run([compiler, "-std=" + std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-x", lang,
                             "-fsyntax-only", HEADER], capture_output=True, text=True)
        return r.returncode == 0 and r2.returncode == 0, r.stderr + r2.stderr


cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
ok, msg = compiles(cc, "c99", "c")
check(ok, "kestrel.h as C99 -Wall -Wextra -Werror -pedantic: " + msg[:2000])
ok, msg = compiles(cc, "c11", "c")
check(ok, "kestrel.h as C11: " + msg[:2000])
if check(cxx is not None, "a C++ compiler (g++: scripts/setup.sh installs build-essential)"):
    ok, msg = compiles(cxx, "c++11", "c++")
    check(ok, "kestrel.h as C++11 -Wall -Wextra -Werror -pedantic: " + msg[:2000])

# the CLI includes kestrel.h and its own headers only
cli = os.path.join(SRC, "src", "cli")
own = {f for f in os.listdir(cli) if f.endswith(".h")}
bad = []
for f in sorted(os.listdir(cli)):
    if not f.endswith((".c", ".h")):
        continue
    for n, line in enumerate(open(os.path.join(cli, f), encoding="utf-8"), 1):
        m = re.match(r'\s*#\s*include\s*"([^"]+)"', line)
        if m and m.group(1) != "kestrel.h" and m.group(1) not in own:
            bad.append("%s:%d: %s" % (f, n, m.group(1)))
check(not bad, "src/cli includes internal headers: %s" % bad)
check(len(own) >= 1 and len([f for f in os.listdir(cli) if f.endswith(".c")]) >= 10, "src/cli found")
done()
