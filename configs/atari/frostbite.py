"""Atari100k Frostbite. Table 2: CURL 924.0, random 65.2, human 4334.7.

Run: python main.py --config=configs/atari/frostbite.py --workdir=/tmp/frostbite
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('frostbite')
