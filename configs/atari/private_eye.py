"""Atari100k Private Eye. Table 2: CURL 105.2, random 24.9, human 69571.3.

Run:
  python main.py --config=configs/atari/private_eye.py \
      --workdir=/tmp/private_eye
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('private_eye')
