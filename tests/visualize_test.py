"""Tests for curl_tf.visualize: what each figure draws, and the video HTML."""

import base64
import io
import json
import os
import re
import tempfile

from absl.testing import absltest
import matplotlib
import numpy as np

from curl_tf import run_logs
from curl_tf import visualize

# Headless: pyplot only serves to check that no figure enters it.
matplotlib.use('Agg')
from matplotlib import pyplot  # pylint: disable=wrong-import-position

_ROWS = [  # env_step, return_mean, return_std, return_min, return_max
    (0, 20.0, 1.0, 19.0, 21.0),
    (2000, 150.0, 10.0, 140.0, 160.0),
    (4000, 300.0, 30.0, 270.0, 330.0),
]


def _write_run(workdir, config=None):
  eval_csv = run_logs.EvalCsv(os.path.join(workdir, 'eval.csv'))
  for env_step, mean, std, low, high in _ROWS:
    eval_csv.append(dict(env_step=env_step, agent_step=env_step // 8,
                         return_mean=mean, return_std=std, return_min=low,
                         return_max=high, num_episodes=2, wall_time_s=1.0))
  if config is not None:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      json.dump(config, f)


def _png_size(fig):
  """(width, height) in pixels of the figure saved as a PNG (Agg)."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png')
  data = buffer.getvalue()
  assert data[:8] == b'\x89PNG\r\n\x1a\n'
  return (int.from_bytes(data[16:20], 'big'),
          int.from_bytes(data[20:24], 'big'))


class LearningCurveTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.workdir = tempfile.mkdtemp()

  def test_plots_mean_band_and_extremes_of_eval_csv(self):
    _write_run(self.workdir, {'domain_name': 'cartpole',
                              'task_name': 'swingup'})
    fig = visualize.learning_curve(self.workdir)
    self.assertLen(fig.axes, 1)
    ax = fig.axes[0]
    mean, low, high = ax.lines
    steps = [row[0] for row in _ROWS]
    np.testing.assert_array_equal(mean.get_xdata(), steps)
    np.testing.assert_array_equal(mean.get_ydata(), [20.0, 150.0, 300.0])
    np.testing.assert_array_equal(low.get_ydata(), [19.0, 140.0, 270.0])
    np.testing.assert_array_equal(high.get_ydata(), [21.0, 160.0, 330.0])
    # The +-1 std band spans mean - std to mean + std.
    band = ax.collections[0].get_paths()[0].vertices
    self.assertEqual(band[:, 1].min(), 19.0)
    self.assertEqual(band[:, 1].max(), 330.0)
    self.assertIn('cartpole swingup', ax.get_title())
    self.assertEqual(ax.get_xlabel(), 'environment steps')
    self.assertGreater(_png_size(fig)[0], 0)

  def test_title_without_config_is_the_workdir_name(self):
    _write_run(self.workdir)
    fig = visualize.learning_curve(self.workdir)
    self.assertEqual(fig.axes[0].get_title(),
                     os.path.basename(self.workdir))

  def test_no_eval_csv_raises_and_creates_nothing(self):
    with self.assertRaisesRegex(FileNotFoundError, 'no eval.csv'):
      visualize.learning_curve(self.workdir)
    self.assertEqual(os.listdir(self.workdir), [])

  def test_figures_stay_out_of_pyplot(self):
    # No figure enters pyplot's global list, so none is shown twice in a
    # notebook, and none needs an interactive backend.
    _write_run(self.workdir)
    before = pyplot.get_fignums()
    visualize.learning_curve(self.workdir)
    visualize.similarity_heatmap(np.eye(2))
    self.assertEqual(pyplot.get_fignums(), before)


class SimilarityHeatmapTest(absltest.TestCase):

  def test_image_is_the_logits_and_wrong_rows_are_marked(self):
    logits = np.array([[0.0, -1.0, -2.0],
                       [-3.0, 0.0, -1.0],
                       [0.0, -0.5, -2.0]])  # Row 2 picks key 0.
    fig = visualize.similarity_heatmap(logits, accuracy=2 / 3)
    self.assertLen(fig.axes, 2)  # The heatmap and its colour bar.
    ax = fig.axes[0]
    self.assertLen(ax.images, 1)
    np.testing.assert_array_equal(ax.images[0].get_array(), logits)
    # One cross, at (key 0, query 2).
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), [[0, 2]])
    self.assertIn('top-1 accuracy 0.67', ax.get_title())

  def test_no_marks_when_every_row_picks_its_positive(self):
    fig = visualize.similarity_heatmap(-1.0 + np.eye(4))
    self.assertLen(fig.axes[0].collections[0].get_offsets(), 0)
    self.assertNotIn('accuracy', fig.axes[0].get_title())


class ImageGridTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.frames = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)

  def test_grid_has_one_image_per_cell(self):
    images = np.stack([self.frames[:3], self.frames[3:]])  # 2 x 3.
    fig = visualize.image_grid(images, row_labels=['anchor', 'positive'])
    self.assertLen(fig.axes, 6)
    for i, ax in enumerate(fig.axes):
      self.assertLen(ax.images, 1)
      np.testing.assert_array_equal(ax.images[0].get_array(),
                                    images[i // 3, i % 3])
    self.assertEqual(fig.axes[3].get_ylabel(), 'positive')

  def test_neighbour_rows_are_query_then_its_neighbours(self):
    fig = visualize.neighbour_grid(
        self.frames, [0, 3], np.array([[1, 2], [5, 4]]),
        similarities=np.array([[0.9, 0.8], [0.75, 0.5]]))
    self.assertLen(fig.axes, 6)  # 2 queries x (1 + 2 neighbours).
    expected = [0, 1, 2, 3, 5, 4]
    for ax, index in zip(fig.axes, expected):
      np.testing.assert_array_equal(ax.images[0].get_array(),
                                    self.frames[index])
    self.assertEqual([ax.get_title() for ax in fig.axes],
                     ['query', '0.9000', '0.8000', 'query', '0.7500',
                      '0.5000'])
    self.assertEqual(fig.axes[3].get_ylabel(), 'frame 3')


class VideoHtmlTest(absltest.TestCase):

  def _write(self, suffix, data):
    path = os.path.join(tempfile.mkdtemp(), 'eval' + suffix)
    with open(path, 'wb') as f:
      f.write(data)
    return path

  def _source(self, html, mime_type):
    match = re.search(f'src="data:{mime_type};base64,([^"]+)"', html)
    self.assertIsNotNone(match, html[:200])
    return base64.b64decode(match.group(1))

  def test_mp4_is_a_video_element_with_the_file_inline(self):
    data = bytes(range(256)) * 3
    html = visualize.video_html(self._write('.mp4', data), width=200)
    self.assertTrue(html.startswith('<video controls'))
    self.assertIn('width="200"', html)
    self.assertEqual(self._source(html, 'video/mp4'), data)

  def test_gif_is_an_image(self):
    data = b'GIF89a' + bytes(50)
    html = visualize.video_html(self._write('.GIF', data))
    self.assertTrue(html.startswith('<img '))
    self.assertEqual(self._source(html, 'image/gif'), data)

  def test_other_files_are_refused(self):
    with self.assertRaisesRegex(ValueError, 'not an .mp4 or .gif'):
      visualize.video_html(self._write('.avi', b'x'))


if __name__ == '__main__':
  absltest.main()
