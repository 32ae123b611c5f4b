"""Atari100k Bank Heist. Table 2: CURL 193.7, random 14.2, human 753.1.

Run:
  python main.py --config=configs/atari/bank_heist.py \
      --workdir=/tmp/bank_heist
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('bank_heist')
