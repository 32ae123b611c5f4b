"""The main of Bazel's pytest_test targets: runs pytest on the given files.

    pytest_main.py tests/envs_test.py -m 'not slow'

Runs from the test's runfiles, where tests/conftest.py is, so pytest loads it
as it does in CI. What Bazel's test environment asks for is passed on: the
JUnit XML report (XML_OUTPUT_FILE), --test_filter (TESTBRIDGE_TEST_ONLY, as
pytest -k) and the per-test temporary directory (TEST_TMPDIR), which Bazel
deletes afterwards.
"""

import os
import sys
import tempfile

import pytest


def pytest_args(argv, environ):
  """Returns pytest's arguments for this script's `argv` under `environ`."""
  # No .pytest_cache: runfiles are not a place to write.
  args = ['-p', 'no:cacheprovider', '-rs']
  if environ.get('XML_OUTPUT_FILE'):
    args.append('--junitxml=' + environ['XML_OUTPUT_FILE'])
  if environ.get('TESTBRIDGE_TEST_ONLY'):
    args += ['-k', environ['TESTBRIDGE_TEST_ONLY']]
  return args + list(argv)


def main(argv):
  # Tests make their scratch directories with tempfile; under Bazel they
  # belong in TEST_TMPDIR, which is writable in the sandbox and cleaned up.
  if os.environ.get('TEST_TMPDIR'):
    os.environ['TMPDIR'] = os.environ['TEST_TMPDIR']
    tempfile.tempdir = None
  return pytest.main(pytest_args(argv[1:], os.environ))


if __name__ == '__main__':
  sys.exit(main(sys.argv))
