"""pytest_test: a py_test that runs one test file under pytest, as CI does.

The test files are unittest/absltest classes that rely on pytest: the shared
tests/conftest.py (MUJOCO_GL, the import path, two logical CPU devices) and
the `slow` marker. So the py_test's main is tools/pytest_main.py, which runs
pytest on the file inside the test's runfiles, where conftest.py is too.
"""

# What pytest -m selects in the `name` target, by the file's share of slow
# tests. With none, nothing is deselected: a slow test added later runs (and
# shows) rather than disappearing from `bazel test //...`.
_MARKERS = {
    "none": None,
    # The fast tier, as `pytest -m "not slow"` runs it.
    "some": "not slow",
    # The file holds only slow tests: the target runs them, on request.
    "all": "slow",
}

_RUNNER = "tools/pytest_main.py"

def pytest_test(name, src, slow = "none", deps = [], tags = [], **kwargs):
    """Runs the pytest file `src` under Bazel.

    Args:
      name: The target's name, e.g. `envs_test`.
      src: The test file, e.g. `tests/envs_test.py`.
      slow: Which of the file's tests carry @pytest.mark.slow: "none", "some"
        (then `<name>_slow`, tagged manual, runs those: `bazel test` of //...
        leaves it out, naming it runs it) or "all" (then `name` itself runs
        them and is tagged manual).
      deps: As for py_test; ":conftest" must be among them.
      tags: As for py_test.
      **kwargs: Passed on to py_test (data, size, timeout, ...).
    """
    if slow not in _MARKERS:
        fail("slow must be one of %s, not %r" % (sorted(_MARKERS), slow))
    variants = [(name, _MARKERS[slow], slow == "all")]
    if slow == "some":
        variants.append((name + "_slow", "slow", True))
    for target, markers, manual in variants:
        args = ["$(rootpath %s)" % src]
        if markers:
            # Bazel splits args as a shell would: the quotes keep the marker
            # expression one argument.
            args += ["-m", "'%s'" % markers]
        native.py_test(
            name = target,
            srcs = [src, _RUNNER],
            main = _RUNNER,
            args = args,
            deps = deps + ["@pypi//:pytest"],
            tags = tags + (["manual", "slow"] if manual else []),
            **kwargs
        )
