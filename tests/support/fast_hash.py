"""Password hashing at argon2's lowest costs, in the tests and in the servers they start.

argon2's default costs (the product's: ``Context.hasher`` is a plain ``PasswordHasher()``) take
0.5–1 s a hash or check on a loaded 2-core machine, and the suite makes and signs in thousands
of users: minutes of hashing that no test is about. :func:`install` lowers the costs a
``PasswordHasher()`` gets by default in this process; explicit costs are untouched, and a hash
is always checked with the costs it carries. ``tests/conftest.py`` installs it and sets
``YUNTONG_TEST_FAST_HASH=1``, which makes :class:`~tests.support.server.ServerProcess` install
it in its child too (the benchmarks, which start servers without the conftest, keep the
product's costs). What hashing does (a hash per password, checks, the upgrade of a hash with
outdated costs at log-in) is the same at any cost.
"""

from __future__ import annotations

from argon2 import PasswordHasher

ENV = "YUNTONG_TEST_FAST_HASH"
# (time_cost, memory_cost KiB, parallelism): argon2's lowest sensible, as the load tests use
FAST = (1, 1024, 1)
PRODUCT = (3, 65536, 4)  # argon2-cffi's defaults: what the product hashes with


def install() -> None:
    defaults = PasswordHasher.__init__.__defaults__
    assert defaults is not None and defaults[:3] in (PRODUCT, FAST), defaults
    PasswordHasher.__init__.__defaults__ = (*FAST, *defaults[3:])


# the same, first thing in a server's child process (which need not find the tests package)
CHILD_CODE = (
    "import os\n"
    f"if os.environ.get({ENV!r}) == '1':\n"
    "    from argon2 import PasswordHasher\n"
    "    _d = PasswordHasher.__init__.__defaults__\n"
    f"    PasswordHasher.__init__.__defaults__ = {FAST!r} + _d[3:]\n"
)
