"""Figure 5: keys from the query encoder (stop-gradient) instead of the momentum encoder ("no EMA").

Over configs/learning_check.py, the CPU-sized proxy the ablations compare on:
  python -m curl_tf.sweep --configs=configs/learning_check.py,configs/ablations/query_keys.py --seeds=1,2 --root=runs/ablations
"""

import os
import runpy

# Loaded by path (configs is no package), from any directory.
_BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'learning_check.py')


def get_config():
  config = runpy.run_path(_BASE)['get_config']()
  config.key_encoder = 'query'
  return config
