"""Tests for the tf.data pipelines: order, epochs, batches and bad files."""
import os

import numpy as np
import tensorflow as tf

from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import params as params_lib
from tests import testdata


def _params(batch_size):
  return params_lib.make_params(image_size=67, batch_size=batch_size)


class InputFnTest(tf.test.TestCase):

  def setUp(self):
    super(InputFnTest, self).setUp()
    root = self.get_temp_dir()
    written = testdata.make_tree(root, layout='classes',
                                 classes=('a', 'b', 'c'), train_per_class=3,
                                 bad=True)
    self.good = [p for p, _ in written['train']]
    self.labels = {p: l for p, l in written['train']}
    folder = os.path.dirname(self.good[0])
    self.bad = sorted(os.path.join(folder, n) for n in testdata.bad_files())
    # A PNG with a .jpg name is an image: decoding is by content.
    self.png_as_jpg = testdata.write(
        os.path.join(root, 'b', 'really_a_png.jpg'),
        testdata.encode(testdata.solid(testdata.COLOURS[1]), 'RGB', 'PNG'))
    self.labels[self.png_as_jpg] = 1
    self.files = sorted(self.good + self.bad + [self.png_as_jpg])

  def _batches(self, ds, count=None):
    next_batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    out = []
    with self.cached_session() as sess:
      while count is None or len(out) < count:
        try:
          out.append(sess.run(next_batch))
        except tf.errors.OutOfRangeError:
          break
    return out

  def test_eval_is_one_ordered_pass_without_bad_files(self):
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_input_fn(
        self.files, [self.labels.get(f, 0) for f in self.files], False,
        _params(4), skipped)()
    batches = self._batches(ds)
    sizes = [len(labels) for _, labels in batches]
    readable = sorted(self.good + [self.png_as_jpg])
    self.assertEqual(sizes, [4, 4, 2])  # 10 images, last batch kept
    labels = np.concatenate([labels for _, labels in batches])
    self.assertAllEqual(labels, [self.labels[f] for f in readable])
    images = batches[0][0]['x']
    self.assertEqual(images.dtype, np.float32)
    self.assertAllEqual(images.shape, [4, 67, 67, 3])
    # Pixels follow the class colour, so the labels travel with their images.
    for image, label in zip(images, batches[0][1]):
      self.assertAllClose(image.reshape(-1, 3).mean(axis=0),
                          np.array(testdata.COLOURS[label]) / 255.0,
                          atol=0.03)
    self.assertEqual(sorted(skipped.files), self.bad)
    self.assertEqual(skipped.count, len(self.bad))

  def test_training_shuffles_each_epoch_and_repeats(self):
    skipped = input_lib.SkippedFiles()
    readable = len(self.good) + 1
    ds = input_lib.make_input_fn(
        self.files, [self.labels.get(f, 0) for f in self.files], True,
        _params(readable), skipped)()
    self.assertEqual(ds.output_shapes[0]['x'].as_list(),
                     [readable, 67, 67, 3])  # drop_remainder: static batch
    batches = self._batches(ds, count=4)
    epochs = [b[0]['x'].reshape(readable, -1).sum(axis=1) for b in batches]
    label_counts = [np.bincount(b[1], minlength=3) for b in batches]
    for counts in label_counts:  # every readable file once per epoch
      self.assertAllEqual(counts, [3, 4, 3])
    orders = {tuple(np.argsort(e)) for e in epochs}
    self.assertGreater(len(orders), 1)  # a new order each epoch
    # Bad files are met every epoch but counted and warned about once.
    self.assertEqual(skipped.count, len(self.bad))

  def test_warns_once_per_skipped_file(self):
    skipped = input_lib.SkippedFiles()
    with self.assertLogs('absl', level='WARNING') as logs:
      skipped.add(b'/x/bad.jpg')
      skipped.add('/x/bad.jpg')
      skipped.add('/x/other.png')
    self.assertEqual(len(logs.records), 2)
    self.assertIn('/x/bad.jpg', logs.records[0].getMessage())
    self.assertEqual(skipped.files, ['/x/bad.jpg', '/x/other.png'])

  def test_predict_keeps_order_and_names_files(self):
    order = list(reversed(self.files))
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_predict_input_fn(order, 3, 67, skipped)()
    batches = self._batches(ds)
    files = [f.decode() for b in batches for f in b['file']]
    self.assertEqual(files, [f for f in order if f not in self.bad])
    self.assertEqual(sorted(skipped.files), self.bad)

  def test_synthetic_input(self):
    params = params_lib.make_params(image_size=67, batch_size=2,
                                    num_classes=5)
    first, second = self._batches(
        input_lib.make_synthetic_input_fn(params)(), count=2)
    features, labels = second
    self.assertAllEqual(features['x'].shape, [2, 67, 67, 3])
    self.assertTrue(np.all((labels >= 0) & (labels < 5)))
    self.assertAllEqual(first[0]['x'], features['x'])  # made once


if __name__ == '__main__':
  tf.test.main()
