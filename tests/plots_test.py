"""Tests for the pictures: grids, curves from event files, galleries, PNGs."""
import os

import numpy as np
import tensorflow as tf

from alexnet_estimator import plots
from tests import helpers

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _write_events(folder, tag_values):
  """Writes scalar summaries {tag: [(step, value)]} to an event file."""
  writer = tf.compat.v1.summary.FileWriter(folder)
  for tag, points in tag_values.items():
    for step, value in points:
      summary = tf.compat.v1.Summary(
          value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=value)])
      writer.add_summary(summary, step)
  writer.close()


class PlotsTest(tf.test.TestCase):

  def test_read_curves_from_train_and_eval_events(self):
    run = self.get_temp_dir()
    _write_events(run, {'loss': [(1, 2.0), (10, 1.0)],
                        'train_accuracy': [(10, 0.5)], 'other': [(1, 9.0)]})
    _write_events(os.path.join(run, 'eval'), {'accuracy': [(10, 0.75)]})
    curves = plots.read_curves(run)
    self.assertEqual(list(curves), ['train loss', 'train accuracy',
                                    'eval accuracy'])
    self.assertEqual(curves['train loss'][0], [1, 10])
    self.assertAllClose(curves['train loss'][1], [2.0, 1.0])
    self.assertAllClose(curves['eval accuracy'][1], [0.75])
    figure = plots.curves_figure(curves, title='t')
    loss_axes, accuracy_axes = figure.axes
    self.assertEqual(len(loss_axes.lines), 1)
    self.assertEqual(len(accuracy_axes.lines), 2)
    path = plots.save(figure, os.path.join(run, 'pictures', 'curves.png'))
    with open(path, 'rb') as f:
      self.assertEqual(f.read(8), PNG_SIGNATURE)

  def test_preview_grid_passes_over_unreadable_files(self):
    root = self.get_temp_dir()
    written = helpers.make_tree(root, layout='classes', classes=('a', 'b'),
                                train_per_class=3, bad_files=True)
    files = [p for p, _ in written['train']] + [
        os.path.join(root, 'a', name) for name in helpers.bad_files()]
    figure = plots.preview_grid(files, ['a'] * len(files), count=100,
                                size=16, columns=4)
    self.assertEqual(len(figure.axes), 6)  # the six readable images
    self.assertEqual(figure.axes[0].get_title(), 'a')

  def test_gallery_shows_top_k_bars_in_order(self):
    images = [helpers.solid(c, (20, 16)) for c in helpers.COLOURS[:3]]
    probabilities = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3],
                              [0.0, 0.1, 0.9]])
    figure = plots.prediction_gallery(images, probabilities, ['x', 'y', 'z'],
                                      titles=['1', '2', '3'], top_k=2)
    self.assertEqual(len(figure.axes), 6)  # an image and its bars, 3 times
    bars = figure.axes[1]
    by_height = sorted(zip(bars.get_yticks(),
                           [t.get_text() for t in bars.get_yticklabels()]))
    self.assertEqual([name for _, name in by_height], ['z', 'y'])  # y on top
    self.assertAllClose(sorted(p.get_width() for p in bars.patches),
                        [0.3, 0.6])


if __name__ == '__main__':
  tf.test.main()
