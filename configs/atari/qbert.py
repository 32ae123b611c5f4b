"""Atari100k Q*bert. Table 2: CURL 1225.6, random 163.9, human 13455.0.

Run: python main.py --config=configs/atari/qbert.py --workdir=/tmp/qbert
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('qbert')
