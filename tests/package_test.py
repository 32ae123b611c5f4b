"""Tests for curl_tf/__init__.py: TensorFlow's oneDNN kernels on every CPU."""

import os
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Asks TensorFlow itself whether its oneDNN kernels are in use.
CHILD = f'''
import sys
sys.path[:0] = [{REPO_ROOT!r}]
import curl_tf
from tensorflow.python.util import _pywrap_util_port
print(_pywrap_util_port.IsMklEnabled())
'''


class OneDnnTest(parameterized.TestCase):
  """A child process per case, since TensorFlow reads the setting once."""

  @parameterized.named_parameters(
      # On an AMD EPYC with AVX2 only, TensorFlow alone says False here.
      ('default_is_on', None, 'True'),
      ('users_choice_wins', '0', 'False'),
  )
  def test_onednn(self, users_value, expected):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    env.pop('TF_ENABLE_ONEDNN_OPTS', None)
    if users_value is not None:
      env['TF_ENABLE_ONEDNN_OPTS'] = users_value
    result = subprocess.run([sys.executable, '-c', CHILD], env=env,
                            capture_output=True, text=True, check=False,
                            timeout=300)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.strip(), expected)


if __name__ == '__main__':
  absltest.main()
