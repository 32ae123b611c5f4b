"""Figures and inline video for the notebooks in colab/.

Every figure is a `matplotlib.figure.Figure` built directly, not through
pyplot: nothing enters pyplot's global list of figures and no backend is
chosen here, so a script or a test renders one with the non-interactive Agg
canvas (`fig.savefig`) and never opens a window. A notebook shows a figure
returned as a cell's value once `%matplotlib inline` is on (the notebooks'
first cell turns it on); pyplot's figures would be shown a second time at
the end of the cell.
"""

import base64
import json
import os
from typing import Dict, Optional, Sequence

from matplotlib import figure as figure_lib
import numpy as np

from curl_tf import config_lib
from curl_tf import run_logs

EVAL_CSV = 'eval.csv'
# Side of one image of a grid, in inches.
_CELL_INCHES = 1.6
_VIDEO_MIME_TYPES = {'.mp4': 'video/mp4', '.gif': 'image/gif'}


def read_eval_csv(workdir: str) -> Dict[str, np.ndarray]:
  """WORKDIR/eval.csv as one float array per column of EVAL_CSV_FIELDS.

  Raises:
    FileNotFoundError: the workdir has no eval.csv (nothing is created:
      `run_logs.EvalCsv` would create an empty one).
  """
  path = os.path.join(workdir, EVAL_CSV)
  if not os.path.exists(path):
    raise FileNotFoundError(f'no {EVAL_CSV} in {workdir!r}: has a run '
                            'evaluated there yet?')
  rows = run_logs.EvalCsv(path).rows()
  return {name: np.array([float(row[name]) for row in rows])
          for name in run_logs.EVAL_CSV_FIELDS}


def _run_title(workdir: str) -> str:
  """'domain task (workdir name)', or the workdir name without config.json."""
  name = os.path.basename(os.path.normpath(workdir))
  try:
    with open(os.path.join(workdir, config_lib.RUN_CONFIG_FILE)) as f:
      config = json.load(f)
    return f'{config["domain_name"]} {config["task_name"]} ({name})'
  except (OSError, ValueError, KeyError):
    return name


def learning_curve(workdir: str,
                   title: Optional[str] = None) -> figure_lib.Figure:
  """The evaluated return of one run against environment steps.

  The line is the mean over each evaluation's episodes, the band +-1
  standard deviation, the dotted lines the worst and best episode.

  Args:
    workdir: a run's workdir, holding eval.csv.
    title: the figure's title; default the task and the workdir's name.

  Returns:
    A figure with one axes.
  """
  data = read_eval_csv(workdir)
  fig = figure_lib.Figure(figsize=(6, 3.5), layout='constrained')
  ax = fig.subplots()
  steps, mean, std = data['env_step'], data['return_mean'], data['return_std']
  ax.plot(steps, mean, marker='o', label='mean')
  ax.fill_between(steps, mean - std, mean + std, alpha=0.25, label='+-1 std')
  for name, label in (('return_min', 'worst and best episode'),
                      ('return_max', None)):
    ax.plot(steps, data[name], linestyle=':', color='gray', linewidth=1,
            label=label)
  ax.set_xlabel('environment steps')
  ax.set_ylabel('evaluation return')
  ax.set_title(title or _run_title(workdir))
  ax.legend(loc='upper left')
  ax.grid(alpha=0.3)
  return fig


def similarity_heatmap(logits: np.ndarray,
                       accuracy: Optional[float] = None) -> figure_lib.Figure:
  """The query-by-key logits of a batch; crosses mark wrong top-1 picks.

  Row i's positive is column i (another crop of the same observation), so a
  good encoder makes a bright diagonal. A red cross marks a row whose
  highest logit is not on the diagonal: a query that picked a negative.

  Args:
    logits: [B, B] logits, queries by keys.
    accuracy: the top-1 accuracy to put in the title, if given.

  Returns:
    A figure with two axes: the heatmap and its colour bar.
  """
  logits = np.asarray(logits)
  fig = figure_lib.Figure(figsize=(5.5, 4.5), layout='constrained')
  ax = fig.subplots()
  image = ax.imshow(logits, cmap='viridis', interpolation='nearest')
  fig.colorbar(image, ax=ax, label='logit (row max subtracted)')
  picked = np.argmax(logits, axis=1)
  wrong = np.flatnonzero(picked != np.arange(len(logits)))
  ax.scatter(picked[wrong], wrong, marker='x', color='red', s=20,
             label='top-1 is a negative')
  ax.set_xlabel('key j: momentum encoder, second crop')
  ax.set_ylabel('query i: online encoder, first crop')
  title = 'q_i^T W k_j; the diagonal is the positives'
  if accuracy is not None:
    title += f'\ntop-1 accuracy {accuracy:.2f}'
  ax.set_title(title)
  if len(wrong):
    ax.legend(loc='upper right', fontsize='small')
  return fig


def image_grid(images: np.ndarray,
               titles: Optional[Sequence[Sequence[str]]] = None,
               row_labels: Optional[Sequence[str]] = None
               ) -> figure_lib.Figure:
  """Images in rows and columns, without axes.

  Args:
    images: uint8 [rows, columns, H, W, 3].
    titles: a title per image, [rows][columns], or None.
    row_labels: a label left of each row, or None.

  Returns:
    A figure with rows x columns axes, one image each.
  """
  images = np.asarray(images)
  rows, columns = images.shape[:2]
  fig = figure_lib.Figure(
      figsize=(_CELL_INCHES * columns, _CELL_INCHES * rows + 0.3),
      layout='constrained')
  axes = fig.subplots(rows, columns, squeeze=False)
  for r in range(rows):
    for c in range(columns):
      ax = axes[r, c]
      ax.imshow(images[r, c])
      ax.set_xticks([])
      ax.set_yticks([])
      if titles is not None:
        ax.set_title(titles[r][c], fontsize='small')
    if row_labels is not None:
      axes[r, 0].set_ylabel(row_labels[r], fontsize='small')
  return fig


def neighbour_grid(frames: np.ndarray, query_indices: Sequence[int],
                   neighbour_indices: np.ndarray,
                   similarities: Optional[np.ndarray] = None
                   ) -> figure_lib.Figure:
  """Each query frame, then its nearest neighbours, one row per query.

  Args:
    frames: uint8 [N, H, W, 3], the frames the indices point into.
    query_indices: [Q] indices of the query frames.
    neighbour_indices: [Q, k] indices of each query's neighbours, nearest
      first (representation.nearest_neighbours).
    similarities: [Q, k] their similarities, shown as titles, or None.

  Returns:
    A figure with Q x (k + 1) axes.
  """
  frames = np.asarray(frames)
  neighbour_indices = np.asarray(neighbour_indices)
  order = np.concatenate([np.asarray(query_indices)[:, None],
                          neighbour_indices], axis=1)
  titles = None
  if similarities is not None:
    titles = [['query'] + [f'{s:.4f}' for s in row] for row in similarities]
  return image_grid(frames[order], titles,
                    row_labels=[f'frame {i}' for i in query_indices])


def video_html(path: str, width: int = 320) -> str:
  """An HTML element that plays an MP4 or shows a GIF, with its bytes inline.

  The file is embedded (base64), so the notebook plays it without serving
  files; a smoke evaluation's video is a few hundred kB.

  Args:
    path: an .mp4 or .gif file (eval_lib writes one or the other).
    width: display width in pixels.

  Returns:
    A <video> element for an MP4, an <img> element for a GIF.

  Raises:
    ValueError: another file type.
  """
  suffix = os.path.splitext(path)[1].lower()
  if suffix not in _VIDEO_MIME_TYPES:
    raise ValueError(f'{path!r}: not an .mp4 or .gif file')
  with open(path, 'rb') as f:
    source = (f'data:{_VIDEO_MIME_TYPES[suffix]};base64,'
              f'{base64.b64encode(f.read()).decode("ascii")}')
  if suffix == '.gif':
    return f'<img src="{source}" width="{width}">'
  return (f'<video controls loop autoplay muted width="{width}">'
          f'<source src="{source}" type="video/mp4"></video>')


def show_video(path: str, width: int = 320):
  """`video_html(path)` as an object a notebook displays (IPython's HTML)."""
  # Imported here: only a notebook needs IPython.
  from IPython import display  # pylint: disable=g-import-not-at-top
  return display.HTML(video_html(path, width))
