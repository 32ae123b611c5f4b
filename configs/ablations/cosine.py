"""Figure 5: the cosine similarity (temperature 0.1) instead of the bilinear W.

Over configs/learning_check.py, the CPU-sized proxy the ablations compare on:
  python -m curl_tf.sweep --configs=configs/learning_check.py,configs/ablations/cosine.py --seeds=1,2 --root=runs/ablations
"""

import os
import runpy

# Loaded by path (configs is no package), from any directory.
_BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'learning_check.py')


def get_config():
  config = runpy.run_path(_BASE)['get_config']()
  config.similarity = 'cosine'
  return config
