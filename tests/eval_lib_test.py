"""Tests for curl_tf.eval_lib: evaluating an export and filming it.

One untrained agent (configs/learning_check.py: cartpole swingup from 32x32
frames, 28x28 crops) is exported once; every test evaluates that export.
"""

import contextlib
import errno
import io
import os
import shutil
import tempfile
from unittest import mock

import imageio
import imageio_ffmpeg
import numpy as np
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy

from configs import learning_check
from curl_tf import config_lib
from curl_tf import envs
from curl_tf import eval_lib
from curl_tf import export
from curl_tf import train_lib
# A sibling test module: pytest puts tests/ (no __init__.py) on sys.path.
import export_test  # pylint: disable=g-bad-import-order

_ENV_STEP = 4000
# Cartpole's 1,000 control steps at action repeat 8.
_AGENT_STEPS = 125


def _read_mp4(path):
  """(frames [N, H, W, 3], fps) of an MP4, read back with imageio."""
  reader = imageio.v2.get_reader(path, format='FFMPEG')
  try:
    # A reader's len() is inf for MP4, so no list(reader).
    frames = np.stack([frame for frame in reader])
    fps = reader.get_meta_data()['fps']
  finally:
    reader.close()
  return frames, fps


class EvaluateSavedPolicyTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.workdir = os.path.join(cls.root, 'run')
    os.mkdir(cls.workdir)
    cls.config = learning_check.get_config()
    # Its returns are compared with in-process ones to float32 round-off.
    cls.config.precision = 'float32'
    train_lib.set_seeds(cls.config.seed)
    env = envs.make_environment(cls.config, seed=cls.config.seed)
    cls.agent = train_lib.make_agent(cls.config, env)
    env.close()
    export.export_policies(
        cls.agent, cls.workdir,
        export.policy_info(cls.config, _ENV_STEP, eval_return=None))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root)
    super().tearDownClass()

  def test_evaluates_the_export_and_films_the_first_episode(self):
    result = eval_lib.evaluate_saved_policy(self.workdir, num_episodes=1)
    video_path = os.path.join(self.workdir, 'videos',
                              f'eval_{_ENV_STEP}.mp4')
    self.assertEqual(result['video_path'], video_path)
    self.assertIsNone(result['video_fallback'])
    self.assertEqual(result['env_step'], _ENV_STEP)
    self.assertEqual(result['seed'], 10_001)  # The training loop's eval seed.
    self.assertLen(result['returns'], 1)
    episode_return = result['returns'][0]
    self.assertTrue(np.isfinite(episode_return))
    # Cartpole's reward is in [0, 1] per control step, 1,000 steps.
    self.assertBetween(episode_return, 0.0, 1000.0)
    self.assertEqual(result['return_mean'], episode_return)
    self.assertEqual(result['return_std'], 0.0)

    # 126 frames: the reset's and one after each of the 125 agent steps.
    frames, fps = _read_mp4(video_path)
    self.assertEqual(frames.shape, (_AGENT_STEPS + 1, 256, 256, 3))
    self.assertEqual(result['video_frames'], _AGENT_STEPS + 1)
    # Real time: one agent step is 8 x 0.01 s of cartpole.
    self.assertAllClose(fps, 12.5)
    self.assertAllClose(result['video_fps'], 12.5)
    # A scene, not a blank: the cart moves between the first and last frame.
    self.assertGreater(np.abs(frames[0].astype(int) - frames[-1]).mean(), 1.0)

    # The in-process greedy policy on an env seeded the same way returns
    # the same: the evaluation ran the exported policy.
    eval_env = envs.make_environment(
        self.config, seed=train_lib.eval_env_seed(self.config))
    in_process = train_lib.evaluate(
        eval_env,
        py_tf_eager_policy.PyTFEagerPolicy(self.agent.eval_policy,
                                           use_tf_function=True), 1)
    eval_env.close()
    self.assertAllClose(result['returns'], in_process, atol=1e-4, rtol=0)

    line = io.StringIO()
    eval_lib.print_summary(result, file=line)
    self.assertEqual(
        line.getvalue(),
        f'{self.workdir}/policy @ env_step 4000: return '
        f'{episode_return:.1f} +- 0.0 over 1 episode(s) (seed 10001); '
        f'video {video_path}\n')

  def test_gif_when_ffmpeg_is_unavailable(self):
    clip_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, clip_dir)
    asked = os.path.join(clip_dir, 'clip.mp4')
    no_ffmpeg = RuntimeError('No ffmpeg exe could be found.')
    with mock.patch.object(imageio_ffmpeg, 'get_ffmpeg_exe',
                           side_effect=no_ffmpeg):
      result = eval_lib.evaluate_saved_policy(
          self.workdir, num_episodes=1, seed=3, video_path=asked)
    gif = os.path.join(clip_dir, 'clip.gif')
    self.assertEqual(result['video_path'], gif)
    self.assertEqual(os.listdir(clip_dir), ['clip.gif'])
    self.assertIn('ffmpeg is unavailable', result['video_fallback'])
    self.assertIn('wrote a GIF', eval_lib.summary_line(result))
    self.assertEqual(result['video_frames'], _AGENT_STEPS + 1)
    frames = imageio.v3.imread(gif, index=None)
    durations_ms = [imageio.v3.immeta(gif, index=i)['duration']
                    for i in range(len(frames))]
    # Pillow merges a run of identical frames (the cart resting at the end
    # of the rail) into one frame that lasts as long: the GIF plays the
    # 126 frames at 80 ms each, 12.5 fps, but may hold fewer.
    self.assertEqual(frames.shape[1:], (256, 256, 3))
    self.assertBetween(len(frames), 2, _AGENT_STEPS + 1)
    self.assertEqual(sum(durations_ms), (_AGENT_STEPS + 1) * 80)
    self.assertEqual(result['seed'], 3)

  def test_bad_input_is_one_line_and_loses_nothing(self):
    other = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, other)
    read_only = os.path.join(other, 'read_only')
    os.mkdir(read_only, 0o500)
    a_file = os.path.join(other, 'a_file')
    with open(a_file, 'w') as f:
      f.write('x')
    a_dir_mp4 = os.path.join(other, 'a_dir.mp4')
    os.mkdir(a_dir_mp4)
    before = export_test.file_contents(self.workdir)
    missing_dir = os.path.join(other, 'missing')
    cases = (
        (dict(num_episodes=0), 'num_episodes must be a positive integer, '
         'got 0'),
        (dict(num_episodes=-2), 'got -2'),
        (dict(num_episodes=True), 'got True'),
        (dict(num_episodes=1.5), 'got 1.5'),
        (dict(workdir=missing_dir), f'workdir {missing_dir!r} does not exist'),
        (dict(workdir=other), f"no exported policy at '{other}/policy'"),
        (dict(video_path=os.path.join(missing_dir, 'v.mp4')),
         f'video directory {missing_dir!r} does not exist'),
        (dict(video_path=os.path.join(a_file, 'v.mp4')),
         f'video directory {a_file!r} is not a directory'),
        (dict(video_path=os.path.join(read_only, 'v.mp4')),
         f'video directory {read_only!r} is not writable'),
        (dict(video_path=os.path.join(other, 'v.avi')), 'must end in .mp4'),
        (dict(video_path=a_dir_mp4), f'video path {a_dir_mp4!r} is a '
         'directory'),
        (dict(seed=-1), 'seed must be an integer in [0, 2**32), got -1'),
    )

    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
      if kwargs.get('dir') == read_only:
        raise PermissionError(errno.EACCES, 'Permission denied')
      return real_mkstemp(*args, **kwargs)

    with contextlib.ExitStack() as stack:
      if os.geteuid() == 0:
        # Root writes through mode 0500: refuse as the OS does for others.
        stack.enter_context(
            mock.patch.object(tempfile, 'mkstemp', side_effect=mkstemp))
      # Every check comes before an episode runs.
      stack.enter_context(mock.patch.object(
          train_lib, 'evaluate',
          side_effect=AssertionError('ran episodes despite bad input')))
      for overrides, fragment in cases:
        kwargs = dict(workdir=self.workdir, num_episodes=1)
        kwargs.update(overrides)
        with self.assertRaises(config_lib.ConfigError, msg=kwargs) as raised:
          eval_lib.evaluate_saved_policy(**kwargs)
        message = str(raised.exception)
        self.assertNotIn('\n', message)
        self.assertIn(fragment, message)
    self.assertEqual(export_test.file_contents(self.workdir), before)
    self.assertCountEqual(os.listdir(read_only), [])
    # Not even a lock file where there was no export.
    self.assertCountEqual(os.listdir(other),
                          ['read_only', 'a_file', 'a_dir.mp4'])


if __name__ == '__main__':
  tf.test.main()
