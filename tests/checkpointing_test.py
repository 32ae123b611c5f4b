"""Checkpoints and resume: exact restores, fallbacks, and real killed runs."""

import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from absl.testing import absltest
from absl.testing import parameterized
import imageio
import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from configs import default
from curl_tf.agents.sac import agent as agent_lib
from curl_tf import checkpointing
from curl_tf import config_lib
from curl_tf import replay
from curl_tf import run_logs
from curl_tf import train_lib

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**overrides):
  config = default.get_config()
  config.image_size, config.crop_size = 32, 28
  config.replay_capacity = 1000
  config.update(overrides)
  return config


def _agent(config):
  train_lib.set_seeds(config.seed)
  obs_spec = tensor_spec.TensorSpec([32, 32, 9], tf.uint8)
  action_spec = tensor_spec.BoundedTensorSpec([1], tf.float32, -1.0, 1.0)
  agent = agent_lib.CurlSacAgent(config, ts.time_step_spec(obs_spec),
                                 action_spec)
  agent.initialize()
  return agent


def _values(agent):
  """Every variable a checkpoint of the agent holds, by checkpoint key."""
  prefix = tf.train.Checkpoint(**agent.checkpoint_items()).write(
      os.path.join(tempfile.mkdtemp(), 'probe'))
  return {name: tf.train.load_variable(prefix, name)
          for name, _ in tf.train.list_variables(prefix)
          if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}


def _fill(server, num_steps):
  with replay.ReplayWriter(server.address, server.table_name, 3) as writer:
    writer.start_episode(np.zeros([32, 32, 3], np.uint8))
    for step in range(num_steps):
      writer.add(np.array([0.5], np.float32), 1.0, 1.0,
                 np.full([32, 32, 3], step % 256, np.uint8))


def _state(env_step):
  return checkpointing.LoopState(
      env_step=env_step, episode_count=3,
      action_rng_state=np.random.default_rng(5).bit_generator.state,
      learning_start_agent_step=1000, data_wait_s=1.5, learner_s=10.0,
      eval_s=2.0)


class RunCheckpointerTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.workdir)
    self.config = _config()
    self.agent = _agent(self.config)
    self.checkpointer = checkpointing.RunCheckpointer(self.workdir,
                                                      self.agent)
    self.server = replay.make_replay_server(
        self.config, action_dim=1,
        checkpoint_root=self.checkpointer.empty_reverb_root())
    self.addCleanup(self.server.close)
    _fill(self.server, 40)

  def _train(self, agent, steps):
    rng = np.random.default_rng(0)
    batch = {k: tf.constant(rng.integers(0, 256, (8, 28, 28, 9), np.uint8))
             for k in ('obs', 'next_obs', 'pos')}
    batch.update(action=tf.constant(rng.uniform(-1, 1, (8, 1)), tf.float32),
                 reward=tf.ones([8]), discount=tf.ones([8]))
    for _ in range(steps):
      agent.train(batch)

  def _save(self, env_step):
    self.checkpointer.save(_state(env_step), self.server.address,
                           self.server.table_name, wait=True)

  def test_restore_is_exact_weights_slots_and_counters(self):
    self._train(self.agent, 3)  # Adam slots and counters move.
    self._save(800)
    saved = _values(self.agent)
    # Names of what was saved: the optimizers' slots and iterations too.
    self.assertTrue(any('critic_optimizer' in name and 'm' in name
                        for name in saved))
    self.assertTrue(any('iteration' in name for name in saved))

    fresh = _agent(_config(seed=9))  # Other initial weights.
    restored = checkpointing.RunCheckpointer(self.workdir, fresh).restore()
    self.assertEqual(restored.state, _state(800))
    self.assertEqual(restored.replay_items, 40)
    self.assertEqual(int(fresh.train_step_counter), 3)
    again = _values(fresh)
    self.assertCountEqual(again, saved)
    for name, value in saved.items():
      self.assertAllEqual(again[name], value, msg=name)

  def test_replay_restores_from_the_manifests_checkpoint(self):
    self._save(800)
    self.assertEqual(sorted(os.listdir(self.checkpointer.directory)), [
        'agent-000000800.data-00000-of-00001', 'agent-000000800.index',
        'manifest-000000800.json', 'replay-000000800', 'reverb'])
    restored = self.checkpointer.restore()
    other = replay.make_replay_server(
        self.config, action_dim=1,
        checkpoint_root=self.checkpointer.empty_reverb_root(),
        restore_from=restored.replay_dir)
    self.addCleanup(other.close)
    self.assertEqual(replay.table_size(other.address, other.table_name), 40)
    batch = next(iter(replay.make_stacked_dataset(
        other.address, other.table_name, frame_stack=3, batch_size=4)))
    self.assertEqual(batch['obs'].shape, (4, 32, 32, 9))

  def test_keeps_two_agent_checkpoints_and_the_newest_replay(self):
    for step in (800, 1600, 2400):
      self._save(step)
    names = sorted(os.listdir(self.checkpointer.directory))
    self.assertEqual([n for n in names if n.startswith('manifest')],
                     ['manifest-000001600.json', 'manifest-000002400.json'])
    self.assertEqual([n for n in names if n.startswith('replay')],
                     ['replay-000002400'])
    self.assertEqual(
        sorted({n.split('.')[0] for n in names if n.startswith('agent')}),
        ['agent-000001600', 'agent-000002400'])

  def test_damaged_newest_falls_back_to_previous_with_a_warning(self):
    self._train(self.agent, 1)
    self._save(800)
    at_800 = _values(self.agent)
    self._train(self.agent, 1)
    self._save(1600)
    # Truncate the newest agent checkpoint's data.
    (data,) = glob.glob(os.path.join(self.checkpointer.directory,
                                     'agent-000001600.data-*'))
    with open(data, 'r+b') as f:
      f.truncate(100)
    fresh = _agent(_config(seed=9))
    with self.assertLogs(level='WARNING') as logs:
      restored = checkpointing.RunCheckpointer(self.workdir, fresh).restore()
    self.assertEqual(restored.state.env_step, 800)
    self.assertIn('manifest-000001600.json', logs.output[0])
    for name, value in _values(fresh).items():
      self.assertAllEqual(value, at_800[name], msg=name)
    # The previous checkpoint's replay is gone: the newest one is used.
    self.assertTrue(restored.replay_dir.endswith('replay-000001600'))

  def test_unreadable_only_checkpoint_is_a_config_error(self):
    self._save(800)
    with open(os.path.join(self.checkpointer.directory,
                           'manifest-000000800.json'), 'w') as f:
      f.write('{not json')
    with self.assertRaisesRegex(config_lib.ConfigError,
                                'no readable checkpoint'):
      checkpointing.RunCheckpointer(self.workdir, self.agent).restore()

  def test_uncommitted_save_is_not_a_checkpoint(self):
    self._save(800)
    # A save killed before its manifest: agent files of 1600, no manifest.
    tf.train.Checkpoint(**self.agent.checkpoint_items()).write(
        os.path.join(self.checkpointer.directory, 'agent-000001600'))
    restored = self.checkpointer.restore()
    self.assertEqual(restored.state.env_step, 800)


class RunConfigTest(absltest.TestCase):

  def test_saved_then_checked(self):
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    config = _config()
    self.assertFalse(config_lib.save_or_check_run_config(config, workdir))
    self.assertTrue(config_lib.save_or_check_run_config(config, workdir))
    # The budget and cadences may change: a finished run can be extended.
    config.num_env_steps = 1_000_000
    config.eval_every_env_steps = 20_000
    self.assertTrue(config_lib.save_or_check_run_config(config, workdir))
    with open(os.path.join(workdir, 'config.json')) as f:
      self.assertEqual(json.load(f)['num_env_steps'], 1_000_000)
    config.batch_size, config.critic_lr = 128, 5e-4
    with self.assertRaises(config_lib.ConfigError) as raised:
      config_lib.save_or_check_run_config(config, workdir)
    message = str(raised.exception)
    self.assertNotIn('\n', message)
    self.assertIn('batch_size (512 in the workdir, 128 now)', message)
    self.assertIn('critic_lr (0.001 in the workdir, 0.0005 now)', message)

  def _run_from_before(self, config, *fields):
    """A workdir whose config.json was written before `fields` existed."""
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    config_lib.save_or_check_run_config(config, workdir)
    path = os.path.join(workdir, 'config.json')
    with open(path) as f:
      saved = json.load(f)
    for name in fields:
      del saved[name]
    with open(path, 'w') as f:
      json.dump(saved, f)
    return workdir, saved

  def test_a_field_added_since_the_run_started_at_its_default(self):
    config = _config()
    # As written before the field existed: that run was float32, whatever
    # the default is now.
    workdir, _ = self._run_from_before(config, 'precision')
    config.precision = 'float32'
    self.assertTrue(config_lib.save_or_check_run_config(config, workdir))
    # 'auto' would resume it in bfloat16 on a CPU with AMX.
    config.precision = 'auto'
    with self.assertRaisesRegex(config_lib.ConfigError,
                                "precision \\('float32' in the workdir, "
                                "'auto' now\\)"):
      config_lib.save_or_check_run_config(config, workdir)

  def test_a_run_from_before_the_ablation_fields_resumes_as_curl(self):
    config = _config()
    workdir, saved = self._run_from_before(
        config, 'similarity', 'curl_temperature', 'key_encoder', 'curl_coef')
    filled = config_lib.fill_fields_added_later(saved)
    self.assertEqual((filled['similarity'], filled['key_encoder'],
                      filled['curl_coef']), ('bilinear', 'momentum', 1.0))
    self.assertTrue(config_lib.save_or_check_run_config(config, workdir))
    config.curl_coef = 0.0
    with self.assertRaisesRegex(config_lib.ConfigError,
                                'curl_coef \\(1.0 in the workdir, 0.0 now\\)'):
      config_lib.save_or_check_run_config(config, workdir)


class PruneAfterTest(tf.test.TestCase):

  def test_drops_rows_and_events_after_the_step(self):
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    eval_csv = run_logs.EvalCsv(os.path.join(workdir, 'eval.csv'))
    for step in (0, 800, 1600):
      eval_csv.append({field: step for field in run_logs.EVAL_CSV_FIELDS})
    writer = tf.summary.create_file_writer(workdir)
    with writer.as_default():
      for step in (0, 400, 800, 1200, 1600):
        tf.summary.scalar('train/x', float(step), step=step)
    writer.close()
    self.assertEqual(run_logs.prune_after(workdir, 800),
                     {'eval_rows': 1, 'events': 2})
    self.assertEqual([int(r['env_step']) for r in eval_csv.rows()], [0, 800])
    (path,) = glob.glob(os.path.join(workdir, 'events.out.tfevents.*'))
    steps = [e.step for e in tf.compat.v1.train.summary_iterator(path)
             if e.summary.value]
    self.assertEqual(steps, [0, 400, 800])
    # Nothing to drop: nothing changes.
    self.assertEqual(run_logs.prune_after(workdir, 800),
                     {'eval_rows': 0, 'events': 0})


# A run of 200 agent steps (1,600 env steps) on 32x32 frames, checkpointed
# every 400 env steps.
_RUN_FLAGS = (
    '--config=configs/smoke.py', '--config.image_size=32',
    '--config.crop_size=28', '--config.num_env_steps=1600',
    '--config.num_random_agent_steps=40', '--config.eval_every_env_steps=800',
    '--config.checkpoint_every_env_steps=400', '--config.num_eval_episodes=1',
    '--config.log_every_env_steps=400', '--config.batch_size=16')


def _start(workdir, *extra):
  return subprocess.Popen(
      [sys.executable, 'main.py', f'--workdir={workdir}', *_RUN_FLAGS,
       *extra], cwd=_REPO_ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout_s):
  deadline = time.time() + timeout_s
  while time.time() < deadline:
    if predicate():
      return True
    time.sleep(0.2)
  return False


def _manifests(workdir):
  return sorted(glob.glob(os.path.join(workdir, 'checkpoints',
                                       'manifest-*.json')))


def _eval_steps(workdir):
  with open(os.path.join(workdir, 'eval.csv')) as f:
    return [int(row['env_step']) for row in csv.DictReader(f)]


@pytest.mark.slow
class KilledRunTest(parameterized.TestCase):
  """main.py in real processes, killed and started again."""

  def setUp(self):
    super().setUp()
    self.workdir = os.path.join(tempfile.mkdtemp(), 'run')
    self.addCleanup(shutil.rmtree, os.path.dirname(self.workdir))

  def test_sigkill_after_a_checkpoint_then_resume(self):
    process = _start(self.workdir)
    self.addCleanup(process.kill)
    self.assertTrue(_wait_for(lambda: _manifests(self.workdir), 300),
                    'no checkpoint within 300 s')
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    with open(_manifests(self.workdir)[-1]) as f:
      manifest = json.load(f)
    checkpoint_step = manifest['env_step']
    self.assertGreater(manifest['replay_items'], 0)

    resumed = _start(self.workdir)
    _, stderr = resumed.communicate(timeout=600)
    self.assertEqual(resumed.returncode, 0, stderr[-3000:])
    self.assertIn(f'resuming from env step {checkpoint_step}', stderr)
    restored_items = int(re.search(r'replay: (\d+) transitions restored',
                                   stderr).group(1))
    self.assertGreaterEqual(restored_items, manifest['replay_items'])
    # The run went on from the checkpoint to the end, and eval.csv has each
    # evaluation once, in order.
    steps = _eval_steps(self.workdir)
    self.assertEqual(steps, [0, 800, 1600])
    progress = [int(s) for s in re.findall(r'env_step (\d+)/1600', stderr)]
    self.assertEqual(progress[0], checkpoint_step + 400)
    self.assertEqual(progress[-1], 1600)

    # The policy the run exported at its end, evaluated from the command
    # line: a playable video of its first episode (125 agent steps after
    # the reset frame), 256x256.
    video = os.path.join(self.workdir, 'videos', 'eval_1600.mp4')
    result = subprocess.run(
        [sys.executable, 'main.py', '--mode=eval',
         f'--workdir={self.workdir}', '--num_episodes=1'],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=300,
        check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn('env_step 1600', result.stdout)
    self.assertIn(video, result.stdout)
    frames = imageio.v3.imread(video)
    self.assertEqual(frames.shape, (126, 256, 256, 3))

  @parameterized.parameters('SIGTERM', 'SIGINT')
  def test_signal_checkpoints_and_exits_0(self, name):
    process = _start(self.workdir)
    self.addCleanup(process.kill)
    # Once learning has started (the first training scalars are logged).
    self.assertTrue(_wait_for(
        lambda: glob.glob(os.path.join(self.workdir, 'events.out.*')) and
        os.path.exists(os.path.join(self.workdir, 'eval.csv')), 300))
    time.sleep(3)
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=120)
    self.assertEqual(process.returncode, 0, stderr[-3000:])
    self.assertIn(f'{name} received', stderr)
    manifests = _manifests(self.workdir)
    self.assertNotEmpty(manifests)
    match = re.search(rf'stopped by {name} at env step (\d+)', stderr)
    self.assertIsNotNone(match, stderr[-2000:])
    self.assertEqual(
        json.load(open(manifests[-1]))['env_step'], int(match.group(1)))


if __name__ == '__main__':
  absltest.main()
