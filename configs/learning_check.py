"""Cartpole swingup from 32x32 pixels: CURL learning within CI's CPU budget.

tests/learning_test.py trains this config end to end (about 14 minutes on 2
CPU cores) and checks that the evaluated return clearly beats a uniform
random policy's. At the paper's 100x100 renders and 84x84 crops, one update
at batch 128 takes 425 ms here, and cartpole swingup was still near the
random policy's return after 24k env steps (25 minutes). Here frames are
rendered at 32x32 and cropped to 28x28, which makes an update about 7x
cheaper (60 ms); the algorithm, the networks (4 conv layers, 32 filters,
50 features, 1024-unit heads) and every Table 3 setting but the batch are
unchanged. Batch 128 (the official code's; Table 3 says 512).

Run: python main.py --config=configs/learning_check.py --workdir=/tmp/check
"""

import os
import runpy

# config_flags loads this file by path, where `configs` is no package; load
# default.py by path too, so this works from any directory and entry point.
_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Returns cartpole swingup at 32x32 pixels, 80k env steps, batch 128."""
  config = runpy.run_path(_DEFAULT)['get_config']()
  config.image_size = 32
  config.crop_size = 28
  config.batch_size = 128
  # 10,000 agent steps: 1,000 random (Table 3), then 9,000 updates.
  config.num_env_steps = 80_000
  # Evaluations at 0, 16k, ..., 80k env steps; the test compares the mean of
  # the last two (64k and 80k) with the random policy.
  config.eval_every_env_steps = 16_000
  config.checkpoint_every_env_steps = 16_000
  config.log_every_env_steps = 4_000
  return config
