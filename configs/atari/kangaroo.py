"""Atari100k Kangaroo. Table 2: CURL 345.3, random 52.0, human 3035.0.

Run: python main.py --config=configs/atari/kangaroo.py --workdir=/tmp/kangaroo
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('kangaroo')
