"""Atari100k Amidar. Table 2: CURL 232.3, random 5.8, human 1719.5.

Run: python main.py --config=configs/atari/amidar.py --workdir=/tmp/amidar
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('amidar')
