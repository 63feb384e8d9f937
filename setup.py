"""Build the Cython units in core/ (docs/DESIGN.md 1); metadata lives in pyproject.toml.

LOOKUP_REQUIRE_CORE=1 makes a unit that fails to compile an error (CI, Docker); otherwise the
package installs without it and `lookup` falls back to the plain-Python reference, saying so.
LOOKUP_DEBUG_BUILD=1 builds with -O0 -g3 and line tracing for coverage and gdb.
"""

import os
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

REQUIRE_CORE = os.environ.get("LOOKUP_REQUIRE_CORE") == "1"
DEBUG = os.environ.get("LOOKUP_DEBUG_BUILD") == "1"

directives = {"language_level": 3, "embedsignature": True}
macros = []
cflags = ["-O0", "-g3"] if DEBUG else ["-O3"]
if DEBUG:
    directives["linetrace"] = True
    macros = [("CYTHON_TRACE_NOGIL", "1")]

# Extensions are named after their path (core.<unit>) so Cython finds each unit's .pxd.
extensions = [
    Extension(
        pyx[:-4].replace(os.sep, "."),
        [pyx],
        optional=not REQUIRE_CORE,
        extra_compile_args=cflags,
        define_macros=macros,
    )
    for pyx in sorted(glob(os.path.join("core", "*.pyx")))
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
