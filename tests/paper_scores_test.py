"""Tests for curl_tf.paper_scores: Table 2 as printed, human-normalised."""

from absl.testing import absltest

from curl_tf import paper_scores


class Table2Test(absltest.TestCase):

  def test_twenty_six_games_with_every_column(self):
    self.assertLen(paper_scores.TABLE2, 26)
    for game, row in paper_scores.TABLE2.items():
      self.assertCountEqual(
          row, [paper_scores.HUMAN, paper_scores.RANDOM, paper_scores.SIMPLE,
                paper_scores.DER, paper_scores.CURL_RAINBOW], game)
      self.assertGreater(row[paper_scores.HUMAN], row[paper_scores.RANDOM],
                         game)

  def test_rows_as_printed(self):
    ms_pacman = paper_scores.TABLE2['ms_pacman']
    self.assertEqual(ms_pacman[paper_scores.CURL_RAINBOW], 1492.8)
    self.assertEqual(paper_scores.TABLE2['up_n_down'][paper_scores.DER],
                     2877.4)
    self.assertEqual(paper_scores.TABLE2['boxing'][paper_scores.SIMPLE], 9.1)

  def test_human_normalized(self):
    # Random scores 0, human 1.
    self.assertEqual(paper_scores.human_normalized('alien', 227.8), 0.0)
    self.assertAlmostEqual(paper_scores.human_normalized('alien', 7127.7), 1.0)
    # Pong: (2.1 + 20.7) / (14.6 + 20.7).
    self.assertAlmostEqual(paper_scores.human_normalized('pong', 2.1),
                           22.8 / 35.3)


if __name__ == '__main__':
  absltest.main()
