r"""Figure 10: how much of the task's state a frozen encoder's features hold.

  python -m curl_tf.probe --workdir=runs/table1/cartpole_swingup/seed_1 \
      [--num_frames=10000] [--out=WORKDIR/probe]

The paper (Figure 10) reports the test MSE of predicting the proprioceptive
state from pixels. Here:

- Frames: one environment built from the run's config.json (frames stacked,
  action repeat, as in training), seeded apart from the training and
  evaluation envs (`probe_seeds`). Each agent step acts with the trained
  greedy policy with probability --policy_fraction, else uniformly at
  random: the policy alone would keep to its own trajectories (for cartpole
  swingup, the pole up), the random actions widen the states seen. Every
  observation the env returns is kept, the reset's included, with the state
  at the same time step.
- States: dm_control's `time_step.observation` of the task (what state SAC
  learns from), read from the physics the frame was rendered from, and
  flattened in the task's key order: cartpole's position[0..2] (cart x,
  cos and sin of the pole angle) and velocity[0..1] (`state_names`).
- Features: what the critic sees, the online (query) encoder's output: the
  conv trunk on the centre crop, then the head (Dense + LayerNorm for the
  'linear' head, + tanh for 'mlp'), `feature_dim` (50) numbers per
  observation. The encoder is frozen: only the probes below are fitted.
  The floor to beat: an encoder of the same architecture and precision,
  freshly initialised with another seed, on the very same observations.
- Probes, fitted on the first (1 - --test_fraction) of the frames in
  collection order and scored on the rest: a split in time, so that
  neighbouring, near-identical frames do not sit on both sides of it (only
  the episode at the boundary is split). Targets are the state standardised
  with the train split's mean and std; a dimension constant on the train
  split (std 0) gets std 1, is reported, and is left out of the overall
  mean. `fit_linear`: ridge regression in closed form, its penalty chosen
  on the last tenth of the train split. `fit_mlp`: 2 x 256 ReLU, Adam,
  early stopping on the same slice. Both in numpy, seeded.
- Scores: the test MSE per state dimension, in units of the train split's
  variance, and its mean over dimensions ('overall'). Predicting the train
  mean scores about 1 (reported too, as 'mean_predictor').

Writes OUT/probe.json (the numbers, settings, seeds, the checkpoint's env
step) and OUT/probe.png (grouped bars: trained vs random encoder per state
dimension, one panel per probe), and prints a table. Reads the workdir and
writes nothing into it unless OUT is inside it (the default).

Bad input ends the program before any work with exit code 2 and one line on
stderr, `curl_tf.probe: error: ...`; nothing is written.
"""

import dataclasses
import functools
import json
import os
import sys
import time
import types
from typing import Any, Callable, Dict, List, Mapping, NoReturn, Sequence

from absl import app
from absl import flags
from matplotlib import figure as figure_lib
import numpy as np

from curl_tf import config_lib
from curl_tf import console

ENCODERS = ('trained', 'random')
PROBES = ('linear', 'mlp')
JSON_FILE = 'probe.json'
CHART_FILE = 'probe.png'
# The probe's env and random encoder are seeded from the run's seed plus
# this and --seed: training uses the run's seed, evaluation the seed +
# 10,000 (train_lib.eval_env_seed).
_SEED_OFFSET = 20_000
# A dimension whose train std is below this (relative to its mean) is
# constant: standardising it would divide by (nearly) zero.
_CONSTANT_STD = 1e-8
# Fewest train frames: the MLP's validation slice and a least-squares fit
# need a few.
MIN_TRAIN_FRAMES = 10
_ERROR_PREFIX = 'curl_tf.probe: error: '


def _define_flags():
  """The command line's flags, defined only when this runs as a program.

  Other modules with flags (the sweep, the report) are imported in the same
  process by the tests: flags at import time could collide.
  """
  return types.SimpleNamespace(
      workdir=flags.DEFINE_string(
          'workdir', None, 'A training run: WORKDIR/config.json and '
          'WORKDIR/checkpoints (read only).'),
      num_frames=flags.DEFINE_integer(
          'num_frames', 10_000, 'Frames to collect: 30-60 ms each on 2 '
          'busy CPU cores at 100x100 (10,000 took 9 min 46 s).', lower_bound=1),
      policy_fraction=flags.DEFINE_float(
          'policy_fraction', 0.75, 'Share of agent steps acting with the '
          'trained greedy policy; the rest act uniformly at random.',
          lower_bound=0.0, upper_bound=1.0),
      test_fraction=flags.DEFINE_float(
          'test_fraction', 0.2, 'Share of the frames, the last collected, '
          'kept to score the probes.', lower_bound=0.0, upper_bound=1.0),
      seed=flags.DEFINE_integer(
          'seed', 0, 'Seeds the env (the run seed + 20,000 + this), the '
          'actions, the random encoder and the MLPs.', lower_bound=0,
          upper_bound=2**31 - 1),
      out=flags.DEFINE_string(
          'out', None, 'Where to write probe.json and probe.png (default: '
          'WORKDIR/probe).'))


_FLAGS = None


def state_names(observation: Mapping[str, Any]) -> List[str]:
  """Names of the flattened state's entries: 'position[0]', 'height', ...

  Args:
    observation: a dm_control observation dict, in the task's key order.

  Returns:
    One name per entry of `flatten_state(observation)`: the key for a
    scalar, key[i] for entry i of an array (flattened in C order).
  """
  names = []
  for key, value in observation.items():
    value = np.asarray(value)
    if value.ndim == 0:
      names.append(key)
    else:
      names.extend(f'{key}[{i}]' for i in range(value.size))
  return names


def flatten_state(observation: Mapping[str, Any]) -> np.ndarray:
  """The observation dict's arrays, flattened and joined in key order."""
  return np.concatenate([np.asarray(value, np.float64).ravel()
                         for value in observation.values()])


@dataclasses.dataclass
class Collection:
  """Observations' features and the states at the same time steps.

  Attributes:
    features: encoder name -> float32 [N, feature_dim].
    states: float64 [N, S].
    state_names: S names (`state_names`).
    num_episodes: episodes started.
    policy_steps: agent steps that acted with the policy (the others acted
      uniformly at random).
    num_steps: agent steps taken.
  """
  features: Dict[str, np.ndarray]
  states: np.ndarray
  state_names: List[str]
  num_episodes: int
  policy_steps: int
  num_steps: int


def collect(env, policy, encoders: Mapping[str, Callable[[np.ndarray],
                                                          np.ndarray]],
            read_state: Callable[[], Mapping[str, Any]], num_frames: int,
            policy_fraction: float, seed: int, chunk_size: int = 256,
            log: Callable[[str], None] = print) -> Collection:
  """Runs the env and keeps each observation's features and state.

  Observations are encoded a chunk at a time as they come: 10,000 stacked
  100x100 frames would take 900 MB, their features 2 MB.

  Args:
    env: a TF-Agents PyEnvironment (reset, step, action_spec).
    policy: has `action(time_step).action`, e.g. a PyTFEagerPolicy.
    encoders: name -> function from uint8 observations [n, H, W, C] to
      features [n, D].
    read_state: the task's state observation now (a dict of arrays).
    num_frames: observations to keep.
    policy_fraction: probability that a step acts with `policy`.
    seed: seeds the choice of actor and the uniform actions.
    chunk_size: observations per encoding.
    log: where progress lines go.

  Returns:
    The Collection, rows in collection order.
  """
  rng = np.random.default_rng(seed)
  spec = env.action_spec()
  features = {name: [] for name in encoders}
  pending, states, names = [], [], None
  num_episodes = policy_steps = num_steps = 0
  start = last_log = time.time()

  def encode_pending():
    for name, encode in encoders.items():
      features[name].append(np.asarray(encode(np.stack(pending)),
                                       np.float32))
    pending.clear()

  time_step = None
  while len(states) < num_frames:
    if time_step is None or time_step.is_last():
      time_step = env.reset()
      num_episodes += 1
    else:
      # Both draws every step, so the actions do not depend on the policy's
      # share of earlier steps.
      use_policy = rng.random() < policy_fraction
      uniform = rng.uniform(spec.minimum, spec.maximum,
                            spec.shape).astype(spec.dtype)
      action = policy.action(time_step).action if use_policy else uniform
      policy_steps += int(use_policy)
      num_steps += 1
      time_step = env.step(action)
    state = read_state()
    if names is None:
      names = state_names(state)
    states.append(flatten_state(state))
    pending.append(np.asarray(time_step.observation))
    if len(pending) == chunk_size or len(states) == num_frames:
      encode_pending()
    if time.time() - last_log > 30 or len(states) == num_frames:
      last_log = time.time()
      log(_progress_line(len(states), num_frames, last_log - start))
  return Collection(
      features={name: np.concatenate(chunks)
                for name, chunks in features.items()},
      states=np.stack(states), state_names=names, num_episodes=num_episodes,
      policy_steps=policy_steps, num_steps=num_steps)


def _progress_line(done: int, total: int, elapsed_s: float) -> str:
  rate = done / max(elapsed_s, 1e-9)
  eta = time.strftime('%H:%M:%S', time.gmtime((total - done) / max(rate,
                                                                   1e-9)))
  return (f'probe: frame {done}/{total} ({100.0 * done / total:.0f}%) | '
          f'{rate:.1f} frames/s | ETA {eta}')


@dataclasses.dataclass
class Standardiser:
  """x -> (x - mean) / std, with the train split's mean and std.

  Attributes:
    mean: [S] the train mean.
    std: [S] the train std; 1 where the dimension is constant.
    constant: [S] bool, the dimensions constant on the train split.
  """
  mean: np.ndarray
  std: np.ndarray
  constant: np.ndarray

  @classmethod
  def fit(cls, train: np.ndarray) -> 'Standardiser':
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    # Relative to the mean: the mean of n equal floats can round, leaving a
    # std of ~1e-17 instead of 0.
    constant = std <= _CONSTANT_STD * np.maximum(1.0, np.abs(mean))
    return cls(mean=mean, std=np.where(constant, 1.0, std),
               constant=constant)

  def __call__(self, x: np.ndarray) -> np.ndarray:
    return (x - self.mean) / self.std


@dataclasses.dataclass
class LinearProbe:
  """y = x W + b, fitted with the L2 penalty `ridge` (see `fit_ridge`)."""
  weights: np.ndarray
  bias: np.ndarray
  ridge: float

  def predict(self, x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64) @ self.weights + self.bias


# Ridge penalties `fit_linear` chooses from: from one that only keeps the
# solve well posed (an exact linear state stays exact, MSE ~1e-12) to
# strong shrinkage, which 50 features fitted on a few hundred correlated
# frames need.
RIDGES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def fit_ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> LinearProbe:
  """Ridge regression with an unpenalised bias, closed form.

  The penalty is `ridge` times the trace of the centred features' gram
  matrix over their number (N x the mean feature variance), so it means
  the same at any feature scale and any N. Any positive one also keeps the
  solve well posed when features are collinear or constant (a LayerNorm
  output sums to a constant).

  Args:
    x: [N, D] features.
    y: [N, S] targets.
    ridge: the relative L2 penalty, > 0.

  Returns:
    The fitted LinearProbe.
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
  centred = x - x_mean
  gram = centred.T @ centred
  penalty = ridge * max(np.trace(gram) / len(gram), 1e-12)
  weights = np.linalg.solve(gram + penalty * np.eye(len(gram)),
                            centred.T @ (y - y_mean))
  return LinearProbe(weights=weights, bias=y_mean - x_mean @ weights,
                     ridge=ridge)


def _num_validation(num_rows: int, validation_fraction: float) -> int:
  """Rows of the validation slice, the last ones: at least one."""
  return max(1, int(round(num_rows * validation_fraction)))


def fit_linear(x: np.ndarray, y: np.ndarray,
               ridges: Sequence[float] = RIDGES,
               validation_fraction: float = 0.1) -> LinearProbe:
  """The linear probe: ridge regression, its penalty chosen on validation.

  Each of `ridges` is fitted on all rows but the last `validation_fraction`
  and scored on those (the same slice as `fit_mlp`'s); the best is fitted
  again on every row.

  Args:
    x: [N, D] features, rows in time order.
    y: [N, S] targets.
    ridges: relative penalties to choose from (`fit_ridge`).
    validation_fraction: share of the rows, the last ones, to choose on.

  Returns:
    The LinearProbe fitted on all rows with the chosen penalty.
  """
  num_val = _num_validation(len(x), validation_fraction)

  def val_mse(ridge):
    fitted = fit_ridge(x[:-num_val], y[:-num_val], ridge)
    return np.mean((fitted.predict(x[-num_val:]) - y[-num_val:]) ** 2)

  return fit_ridge(x, y, min(ridges, key=val_mse))


@dataclasses.dataclass
class MlpProbe:
  """A ReLU MLP on standardised features.

  Attributes:
    inputs: standardises the features as on the train split.
    layers: (kernel, bias) per layer, the last one linear.
    epochs: epochs trained, the best one's weights kept.
  """
  inputs: Standardiser
  layers: List[List[np.ndarray]]
  epochs: int

  def predict(self, x: np.ndarray) -> np.ndarray:
    return _mlp_forward(self.layers, self.inputs(x).astype(np.float32))[-1]


def _mlp_forward(layers, x: np.ndarray) -> List[np.ndarray]:
  """Activations of every layer, the input first and the output last."""
  activations = [x]
  for i, (kernel, bias) in enumerate(layers):
    z = activations[-1] @ kernel + bias
    activations.append(z if i == len(layers) - 1 else np.maximum(z, 0.0))
  return activations


def _mlp_gradients(layers, x: np.ndarray, y: np.ndarray):
  """Gradients of the mean squared error (over rows and outputs)."""
  activations = _mlp_forward(layers, x)
  delta = 2.0 * (activations[-1] - y) / y.size
  grads = []
  for i in reversed(range(len(layers))):
    grads.append([activations[i].T @ delta, delta.sum(axis=0)])
    if i:
      delta = (delta @ layers[i][0].T) * (activations[i] > 0)
  return grads[::-1]


def fit_mlp(x: np.ndarray, y: np.ndarray, seed: int,
            hidden_units: int = 256, num_hidden: int = 2,
            learning_rate: float = 1e-3, batch_size: int = 128,
            max_epochs: int = 200, patience: int = 15,
            validation_fraction: float = 0.1) -> MlpProbe:
  """A small MLP regressor trained with Adam and early stopping.

  The validation slice is the last `validation_fraction` of the rows (at
  least one): with rows in time order, that keeps near-duplicate
  neighbours out of it, as for the test split. Training stops after
  `patience` epochs without a better validation MSE; the best epoch's
  weights are kept.

  Args:
    x: [N, D] features.
    y: [N, S] targets.
    seed: seeds the initial weights and the minibatch order.
    hidden_units: units per hidden layer.
    num_hidden: hidden ReLU layers.
    learning_rate: Adam's step size.
    batch_size: rows per Adam step.
    max_epochs: passes over the training rows, at most.
    patience: epochs without improvement before stopping.
    validation_fraction: share of the rows kept for early stopping.

  Returns:
    The fitted MlpProbe.
  """
  rng = np.random.default_rng(seed)
  num_val = _num_validation(len(x), validation_fraction)
  inputs = Standardiser.fit(np.asarray(x[:-num_val], np.float64))
  x = inputs(np.asarray(x, np.float64)).astype(np.float32)
  y = np.asarray(y, np.float32)
  x_train, y_train, x_val, y_val = (x[:-num_val], y[:-num_val], x[-num_val:],
                                    y[-num_val:])
  sizes = [x.shape[1]] + [hidden_units] * num_hidden + [y.shape[1]]
  # He-normal kernels for the ReLU layers, zero biases; a zero output layer,
  # so that training starts from the train mean (MSE ~1), and a target the
  # features do not predict stays there instead of fitting the init's noise.
  layers = [[rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)
                        ).astype(np.float32), np.zeros(fan_out, np.float32)]
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
  layers[-1][0][:] = 0.0
  moments = [[(np.zeros_like(p), np.zeros_like(p)) for p in layer]
             for layer in layers]
  beta1, beta2, epsilon, step = 0.9, 0.999, 1e-8, 0

  def val_mse():
    return float(np.mean((_mlp_forward(layers, x_val)[-1] - y_val) ** 2))

  def snapshot():
    return [[p.copy() for p in layer] for layer in layers]

  best_mse, best_layers, best_epoch = val_mse(), snapshot(), 0
  epoch = 0
  for epoch in range(1, max_epochs + 1):
    order = rng.permutation(len(x_train))
    for start in range(0, len(order), batch_size):
      rows = order[start:start + batch_size]
      step += 1
      grads = _mlp_gradients(layers, x_train[rows], y_train[rows])
      for layer, layer_grads, layer_moments in zip(layers, grads, moments):
        for i, (param, grad) in enumerate(zip(layer, layer_grads)):
          m, v = layer_moments[i]
          m = beta1 * m + (1 - beta1) * grad
          v = beta2 * v + (1 - beta2) * grad * grad
          layer_moments[i] = (m, v)
          m_hat = m / (1 - beta1 ** step)
          v_hat = v / (1 - beta2 ** step)
          param -= learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    mse = val_mse()
    if mse < best_mse:
      best_mse, best_layers, best_epoch = mse, snapshot(), epoch
    elif epoch - best_epoch >= patience:
      break
  return MlpProbe(inputs=inputs, layers=best_layers, epochs=epoch)


def split_sizes(num_frames: int, test_fraction: float):
  """(train, test) frame counts; raises ConfigError if either is too small.

  The test split is the last round(num_frames x test_fraction) frames.
  """
  num_test = int(round(num_frames * test_fraction))
  num_train = num_frames - num_test
  if num_test < 1 or num_train < MIN_TRAIN_FRAMES:
    raise config_lib.ConfigError(
        f'--num_frames={num_frames} with --test_fraction={test_fraction} '
        f'gives {num_train} train and {num_test} test frames; need at least '
        f'{MIN_TRAIN_FRAMES} and 1')
  return num_train, num_test


def _scores(per_dim: np.ndarray, names: List[str],
            constant: np.ndarray) -> Dict[str, Any]:
  return {'per_dim': {name: float(mse) for name, mse in zip(names, per_dim)},
          'overall': float(np.mean(per_dim[~constant])) if (~constant).any()
                     else None}


def probe_features(features: Mapping[str, np.ndarray], states: np.ndarray,
                   names: List[str], test_fraction: float, seed: int,
                   log: Callable[[str], None] = print) -> Dict[str, Any]:
  """Fits the linear and MLP probes on each encoder's features; test MSEs.

  Args:
    features: encoder name -> [N, D] features, rows in collection order.
    states: [N, S] the states of the same rows.
    names: S state dimension names.
    test_fraction: the share of rows, the last ones, scored.
    seed: seeds the MLPs.
    log: where a line per fit goes.

  Returns:
    {'mse': {encoder: {probe: {'per_dim': {name: mse}, 'overall': mean}}},
     'mean_predictor': the same for predicting the train mean,
     'constant_dims': names of dimensions constant on the train split,
     'num_train', 'num_test',
     'fits': {encoder: {'linear_ridge': chosen penalty, 'mlp_epochs': n}}}.
    MSEs are of the standardised state (train split's mean and std).
  """
  num_train, num_test = split_sizes(len(states), test_fraction)
  standardise = Standardiser.fit(states[:num_train])
  targets = standardise(states)
  y_train, y_test = targets[:num_train], targets[num_train:]
  constant = standardise.constant

  def test_mse(predictions):
    return np.mean((predictions - y_test) ** 2, axis=0)

  result = {
      'mse': {},
      'mean_predictor': _scores(test_mse(np.zeros_like(y_test)), names,
                                constant),
      'constant_dims': [n for n, c in zip(names, constant) if c],
      'num_train': num_train, 'num_test': num_test, 'fits': {}}
  for name, x in features.items():
    x_train, x_test = x[:num_train], x[num_train:]
    start = time.time()
    linear = fit_linear(x_train, y_train)
    mlp = fit_mlp(x_train, y_train, seed=seed)
    result['mse'][name] = {
        'linear': _scores(test_mse(linear.predict(x_test)), names, constant),
        'mlp': _scores(test_mse(mlp.predict(x_test)), names, constant)}
    result['fits'][name] = {'linear_ridge': linear.ridge,
                            'mlp_epochs': mlp.epochs}
    log(f'probe: fitted the {name} encoder\'s probes in '
        f'{time.time() - start:.1f} s (ridge {linear.ridge:g}, MLP '
        f'{mlp.epochs} epochs)')
  return result


def probe_seeds(config, seed: int) -> Dict[str, int]:
  """The probe's seeds: none equals the training or evaluation env's."""
  # dm_control takes seeds in [0, 2**32).
  env_seed = (config.seed + _SEED_OFFSET + seed) % 2**32
  return {'probe': seed, 'env': env_seed, 'random_encoder': env_seed,
          'actions': seed, 'mlp': seed}


def run_probe(workdir: str, out: str, num_frames: int = 10_000,
              policy_fraction: float = 0.75, test_fraction: float = 0.2,
              seed: int = 0,
              log: Callable[[str], None] = print) -> Dict[str, Any]:
  """Collects frames from a trained run's task, probes both encoders, writes.

  Args:
    workdir: a training run's workdir (read only).
    out: where probe.json and probe.png go (created).
    num_frames: observations to collect.
    policy_fraction: share of steps acting with the greedy policy.
    test_fraction: share of the frames, the last ones, scored.
    seed: the probe's seed (`probe_seeds`).
    log: where progress lines go.

  Returns:
    What probe.json holds.

  Raises:
    ConfigError: no config.json or checkpoint in the workdir, or too few
      frames for the split.
  """
  # Imported here, not at the top: the command line rejects bad input
  # before TensorFlow's seconds-long import, as main.py does.
  # pylint: disable=g-import-not-at-top
  from tf_agents.policies import py_tf_eager_policy
  from curl_tf.agents.sac import networks
  from curl_tf import envs
  from curl_tf import representation
  from curl_tf import train_lib
  # pylint: enable=g-import-not-at-top
  split_sizes(num_frames, test_fraction)
  start = time.time()
  run = representation.restore_run(workdir)
  config = run.config
  seeds = probe_seeds(config, seed)
  log(f'probe: restored {run.workdir} at env step {run.env_step}')
  env = envs.make_environment(config, seed=seeds['env'])
  try:
    # Keras draws unseeded initialisers' seeds from the global RNGs.
    train_lib.set_seeds(seeds['random_encoder'])
    random_encoder = networks.make_encoder(config, 'random_encoder')
    random_encoder(np.zeros((1,) + env.observation_spec().shape, np.uint8))
    # dm_control's observation of the physics the frame was just rendered
    # from: what its own time_step.observation holds. envs keeps the
    # dm_control env private; this reads it and changes nothing.
    dm_env = env._env  # pylint: disable=protected-access
    collection = collect(
        env, py_tf_eager_policy.PyTFEagerPolicy(run.agent.eval_policy,
                                                use_tf_function=True),
        {'trained': functools.partial(representation.encode,
                                      run.agent.networks.encoder),
         'random': functools.partial(representation.encode, random_encoder)},
        lambda: dm_env.task.get_observation(dm_env.physics),
        num_frames, policy_fraction, seeds['actions'], log=log)
  finally:
    env.close()
  collect_s = time.time() - start
  scores = probe_features(collection.features, collection.states,
                          collection.state_names, test_fraction,
                          seeds['mlp'], log=log)
  result = {
      'workdir': run.workdir,
      'task': f'{config.domain_name}_{config.task_name}',
      'env_step': run.env_step,
      'features': (f'online encoder output ({config.encoder_head} head, '
                   f'{config.feature_dim} features) of the centre crop'),
      'num_frames': num_frames,
      'num_episodes': collection.num_episodes,
      'policy_fraction': policy_fraction,
      'policy_steps': collection.policy_steps,
      'num_steps': collection.num_steps,
      'test_fraction': test_fraction,
      'seeds': seeds,
      'state_names': collection.state_names,
      **scores,
      'seconds': {'restore_and_collect': round(collect_s, 1),
                  'fit': round(time.time() - start - collect_s, 1)},
      'config': config.to_dict(),
  }
  write_outputs(result, out)
  return result


def write_outputs(result: Mapping[str, Any], out: str) -> None:
  """Writes OUT/probe.json and OUT/probe.png."""
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, JSON_FILE), 'w') as f:
    json.dump(result, f, indent=1)
  plot(result).savefig(os.path.join(out, CHART_FILE), dpi=100)


def plot(result: Mapping[str, Any]) -> figure_lib.Figure:
  """Grouped bars per state dimension: trained vs random, one panel a probe."""
  names = list(result['state_names']) + ['overall']
  fig = figure_lib.Figure(figsize=(max(8.0, 1.1 * len(names)), 6.5),
                          layout='constrained')
  axes = fig.subplots(len(PROBES), 1, sharex=True)
  positions = np.arange(len(names))
  width = 0.38
  for ax, probe in zip(axes, PROBES):
    for i, (encoder, colour) in enumerate(zip(ENCODERS, ('C0', 'C7'))):
      scores = result['mse'][encoder][probe]
      values = [scores['per_dim'][n] for n in names[:-1]]
      values.append(np.nan if scores['overall'] is None else
                    scores['overall'])
      ax.bar(positions + (i - 0.5) * width, values, width, color=colour,
             label=f'{encoder} encoder')
    ax.axhline(1.0, color='k', linestyle='--', linewidth=0.8,
               label='train mean (~1)')
    ax.set_ylabel('test MSE (standardised)')
    ax.set_title({'linear': 'linear probe (ridge)',
                  'mlp': 'MLP probe (2 x 256 ReLU)'}[probe])
  axes[0].legend(fontsize='small')
  axes[-1].set_xticks(positions, names, rotation=30, ha='right')
  fig.suptitle(f'{result["task"]}, {result["env_step"]:,} env steps: the '
               'state from frozen encoder features\n'
               f'{result["num_frames"]:,} frames, the last '
               f'{result["num_test"]:,} scored')
  return fig


def format_table(result: Mapping[str, Any]) -> str:
  """Test MSE per state dimension: rows are dimensions, then 'overall'."""
  columns = [(encoder, probe) for probe in PROBES for encoder in ENCODERS]
  header = f'{"state":<14}' + ''.join(
      f'{probe + " " + encoder:>15}' for encoder, probe in columns)
  lines = [header]
  for name in list(result['state_names']) + ['overall']:
    cells = []
    for encoder, probe in columns:
      scores = result['mse'][encoder][probe]
      value = scores['overall'] if name == 'overall' else scores['per_dim'][
          name]
      cells.append(f'{"-" if value is None else f"{value:.4f}":>15}')
    lines.append(f'{name:<14}' + ''.join(cells))
  if result['constant_dims']:
    lines.append('constant on the train split (not in overall): ' +
                 ', '.join(result['constant_dims']))
  return '\n'.join(lines)


def check_writable(out: str) -> None:
  """Raises ConfigError unless `out` is, or can be made, a writable dir."""
  path = os.path.abspath(out)
  if os.path.exists(path) and not os.path.isdir(path):
    raise config_lib.ConfigError(f'--out {path!r} is not a directory')
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
    raise config_lib.ConfigError(f'--out {path!r} cannot be written: '
                                 f'{existing!r} is not a writable directory')


def _fail(message: str) -> NoReturn:
  print(_ERROR_PREFIX + message, file=sys.stderr)
  sys.exit(2)


def _parse_flags(argv: List[str]) -> List[str]:
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _fail(str(e).splitlines()[0])


def main(argv: List[str]) -> None:
  if len(argv) > 1:
    _fail(f'unexpected arguments: {" ".join(argv[1:])}')
  if not _FLAGS.workdir.value:
    _fail('flag --workdir is required')
  try:
    workdir = config_lib.existing_workdir(_FLAGS.workdir.value)
    out = os.path.abspath(_FLAGS.out.value or os.path.join(workdir, 'probe'))
    split_sizes(_FLAGS.num_frames.value, _FLAGS.test_fraction.value)
    check_writable(out)
  except config_lib.ConfigError as e:
    _fail(str(e))
  console.quiet_imports('curl_tf.representation')
  try:
    result = run_probe(
        workdir, out, num_frames=_FLAGS.num_frames.value,
        policy_fraction=_FLAGS.policy_fraction.value,
        test_fraction=_FLAGS.test_fraction.value, seed=_FLAGS.seed.value,
        log=functools.partial(print, flush=True))
  except config_lib.ConfigError as e:
    _fail(str(e))
  except OSError as e:
    _fail(f'cannot write to {out!r}: {e.strerror}')
  except KeyboardInterrupt:
    print('curl_tf.probe: interrupted', file=sys.stderr)
    sys.exit(130)
  print(format_table(result))
  print(f'probe: {os.path.join(out, JSON_FILE)}, '
        f'{os.path.join(out, CHART_FILE)}')


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(main, flags_parser=_parse_flags)
