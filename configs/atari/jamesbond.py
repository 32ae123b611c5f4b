"""Atari100k James Bond. Table 2: CURL 400.1, random 29.0, human 406.7.

Run: python main.py --config=configs/atari/jamesbond.py --workdir=/tmp/jamesbond
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('jamesbond')
