"""Tests for the tf.data pipelines: order, epochs, batches and bad files."""
import collections
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import build_tfrecords
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import preprocessing
from tests import helpers

IMAGE_SIZE = 67
CLASSES = 3
PER_CLASS = 3
# Class c, file i is COLOURS[c] shifted by SHADE * (i - 1) on every channel:
# the decoded pixels say which file an image came from.
SHADE = 16


def _params(batch_size, **kwargs):
  return params_lib.make_params(image_size=IMAGE_SIZE, batch_size=batch_size,
                                **kwargs)


def _paper_params(batch_size, eval_crops=10):
  """The paper's preprocessing, small: a 76 square, 67 crops, no lighting.

  (The lighting would move a colour by several units of 255: the pixels
  would no longer say which file an image came from.)
  """
  return _params(batch_size, preprocessing='paper', resize_side=76,
                 eval_crops=eval_crops)


def _colour(label, i):
  return tuple(int(np.clip(c + SHADE * (i - 1), 0, 255))
               for c in helpers.COLOURS[label])


class _PipelineTestCase(tf.test.TestCase):
  """A folder of small images, each of its own colour, and the bad files."""

  def setUp(self):
    super(_PipelineTestCase, self).setUp()
    root = self.get_temp_dir()
    self.colours = {}  # good file -> RGB it decodes to
    self.labels = {}  # every file -> label
    for label in range(CLASSES):
      for i in range(PER_CLASS):
        ext = '.jpg' if i % 2 else '.png'
        path = os.path.join(root, 'c%d' % label, 'f%d%s' % (i, ext))
        helpers.write_image(path, helpers.solid(_colour(label, i),
                                                 (20, 24), seed=i),
                            quality=95)
        self.colours[path] = _colour(label, i)
        self.labels[path] = label
    # Decoding is by content: a PNG named .jpg is an image, never skipped.
    self.png_as_jpg = helpers.write_image(
        os.path.join(root, 'c1', 'really_a_png.jpg'),
        helpers.solid((90, 90, 90), (24, 20)), fmt='PNG')
    self.colours[self.png_as_jpg] = (90, 90, 90)
    self.labels[self.png_as_jpg] = 1
    self.bad = helpers.write_bad_files(os.path.join(root, 'c0'))
    for path in self.bad:
      self.labels[path] = 0
    self.good = sorted(self.colours)
    self.files = sorted(self.labels)

  def _file_of(self, image):
    """The good file whose colour `image` [S, S, 3] in [0, 1] shows."""
    mean = image.reshape(-1, 3).mean(axis=0) * 255.0
    distance, path = min((np.abs(mean - self.colours[p]).max(), p)
                         for p in self.good)
    self.assertLess(distance, 4.0)
    return path

  def _batches(self, ds, count=None):
    """Runs `ds` to its end, or for `count` elements; returns them."""
    next_batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    out = []
    with self.cached_session() as sess:
      while count is None or len(out) < count:
        try:
          out.append(sess.run(next_batch))
        except tf.errors.OutOfRangeError:
          break
    return out

  def _input(self, is_training, batch_size, files=None, skipped=None,
             params=None):
    files = self.files if files is None else files
    return input_lib.make_input_fn(
        files, [self.labels[f] for f in files], is_training,
        params or _params(batch_size), skipped or input_lib.SkippedFiles())()


class TrainInputTest(_PipelineTestCase):

  def test_static_shapes_and_dtypes(self):
    ds = self._input(True, 4)
    features, labels = tf.compat.v1.data.get_output_shapes(ds)
    self.assertEqual(features['x'].as_list(), [4, IMAGE_SIZE, IMAGE_SIZE, 3])
    self.assertEqual(labels.as_list(), [4])  # drop_remainder: static batch
    feature_types, label_type = tf.compat.v1.data.get_output_types(ds)
    self.assertEqual(feature_types, {'x': tf.float32})
    self.assertEqual(label_type, tf.int32)
    (features, labels), = self._batches(ds, count=1)
    self.assertEqual(features['x'].dtype, np.float32)
    self.assertEqual(labels.dtype, np.int32)
    self.assertAllEqual(features['x'].shape, [4, IMAGE_SIZE, IMAGE_SIZE, 3])
    self.assertAllInRange(features['x'], 0.0, 1.0)

  def test_every_epoch_holds_every_good_file_once_in_a_new_order(self):
    skipped = input_lib.SkippedFiles()
    epoch = len(self.good)  # one batch is exactly one epoch
    batches = self._batches(self._input(True, epoch, skipped=skipped), 4)
    orders = []
    for features, labels in batches:
      order = [self._file_of(image) for image in features['x']]
      self.assertCountEqual(order, self.good)
      self.assertAllEqual(labels, [self.labels[f] for f in order])
      orders.append(tuple(order))
    self.assertGreater(len(set(orders)), 1)  # reshuffled each epoch
    # Met four times each, the bad files are recorded once.
    self.assertEqual(sorted(skipped.files), self.bad)
    self.assertEqual(skipped.count, len(self.bad))

  def test_batches_are_full_and_run_past_the_first_epoch(self):
    # 10 good files in batches of 4: 5 batches are exactly two epochs.
    batches = self._batches(self._input(True, 4), 7)
    self.assertLen(batches, 7)
    for features, labels in batches:
      self.assertAllEqual(features['x'].shape, [4, IMAGE_SIZE, IMAGE_SIZE, 3])
      self.assertLen(labels, 4)
    seen = collections.Counter(
        self._file_of(image) for features, _ in batches[:5]
        for image in features['x'])
    self.assertEqual(seen, {f: 2 for f in self.good})

  def test_batch_larger_than_the_data_set_still_fills(self):
    batches = self._batches(self._input(True, 13), 2)
    self.assertLen(batches, 2)
    self.assertAllEqual(batches[1][1].shape, [13])

  def test_skipped_files_are_warned_about_once_across_epochs(self):
    skipped = input_lib.SkippedFiles()
    ds = self._input(True, len(self.good), skipped=skipped)
    with self.assertLogs('absl', level='WARNING') as logs:
      self._batches(ds, 3)  # epochs 1 and 2 have passed the filter
    warned = collections.Counter(
        path for record in logs.records for path in self.bad
        if path in record.getMessage())
    self.assertEqual(warned, {path: 1 for path in self.bad})
    self.assertNotIn(self.png_as_jpg, str([r.getMessage()
                                           for r in logs.records]))


class EvalInputTest(_PipelineTestCase):

  def test_one_pass_in_file_order_with_a_partial_last_batch(self):
    skipped = input_lib.SkippedFiles()
    batches = self._batches(self._input(False, 4, skipped=skipped))
    self.assertEqual([len(labels) for _, labels in batches], [4, 4, 2])
    images = np.concatenate([features['x'] for features, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    order = [self._file_of(image) for image in images]
    self.assertEqual(order, [f for f in self.files if f not in self.bad])
    self.assertAllEqual(labels, [self.labels[f] for f in order])
    self.assertEqual(images.dtype, np.float32)
    self.assertEqual(labels.dtype, np.int32)
    self.assertEqual(sorted(skipped.files), self.bad)
    self.assertEqual(skipped.count, 4)

  def test_unknown_batch_dimension(self):
    features, labels = tf.compat.v1.data.get_output_shapes(
        self._input(False, 4))
    self.assertEqual(features['x'].as_list(),
                     [None, IMAGE_SIZE, IMAGE_SIZE, 3])
    self.assertEqual(labels.as_list(), [None])

  def test_labels_are_taken_as_given(self):
    # The pipeline does not look at folders: labels come from the caller.
    files = self.good[:3]
    ds = input_lib.make_input_fn(files, [7, 5, 6], False, _params(8),
                                 input_lib.SkippedFiles())()
    (_, labels), = self._batches(ds)
    self.assertAllEqual(labels, [7, 5, 6])

  def test_clean_input_skips_nothing(self):
    skipped = input_lib.SkippedFiles()
    batches = self._batches(self._input(False, 3, files=self.good,
                                        skipped=skipped))
    self.assertEqual(sum(len(labels) for _, labels in batches),
                     len(self.good))
    self.assertEqual(skipped.count, 0)
    self.assertEqual(skipped.files, [])

  def test_unreadable_files_are_skipped_and_named(self):
    root = self.get_temp_dir()
    missing = os.path.join(root, 'deleted.png')
    folder = os.path.join(root, 'c2')
    non_ascii = helpers.write(os.path.join(root, u'caf\u00e9.jpg'),
                              helpers.text_bytes())
    files = [self.good[0], missing, folder, non_ascii, self.good[1]]
    self.labels.update({missing: 0, folder: 0, non_ascii: 0})
    skipped = input_lib.SkippedFiles()
    batches = self._batches(self._input(False, 8, files=files,
                                        skipped=skipped))
    (features, _), = batches
    self.assertEqual([self._file_of(image) for image in features['x']],
                     self.good[:2])
    self.assertEqual(sorted(skipped.files),
                     sorted([missing, folder, non_ascii]))

  def test_only_bad_files_give_no_batches(self):
    skipped = input_lib.SkippedFiles()
    self.assertEqual(self._batches(self._input(False, 2, files=self.bad,
                                               skipped=skipped)), [])
    self.assertEqual(sorted(skipped.files), self.bad)

  def test_no_files_give_no_batches(self):
    self.assertEqual(self._batches(self._input(False, 2, files=[])), [])


class PredictInputTest(_PipelineTestCase):

  def test_keeps_order_and_names_files(self):
    order = list(reversed(self.files))
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_predict_input_fn(order, _params(3), skipped)()
    self.assertEqual(sorted(tf.compat.v1.data.get_output_types(ds)),
                     ['file', 'x'])
    batches = self._batches(ds)
    self.assertEqual([len(b['file']) for b in batches], [3, 3, 3, 1])
    names = [f.decode('utf-8') for b in batches for f in b['file']]
    readable = [f for f in order if f not in self.bad]
    self.assertEqual(names, readable)
    # Each image is the one its 'file' names.
    images = np.concatenate([b['x'] for b in batches])
    self.assertEqual([self._file_of(image) for image in images], readable)
    self.assertEqual(sorted(skipped.files), self.bad)


class PaperInputTest(_PipelineTestCase):
  """The paper's preprocessing in the folder and TFRecord pipelines."""

  def _file_of_paper(self, image):
    """The good file an image (0-255 less MEAN_RGB) shows, as _file_of."""
    return self._file_of((image + np.array(preprocessing.MEAN_RGB)) / 255.0)

  def test_training_gives_single_crops(self):
    ds = self._input(True, 4, params=_paper_params(4))
    features, labels = tf.compat.v1.data.get_output_shapes(ds)
    self.assertEqual(features['x'].as_list(), [4, IMAGE_SIZE, IMAGE_SIZE, 3])
    self.assertEqual(labels.as_list(), [4])
    (features, labels), = self._batches(ds, count=1)
    self.assertAllEqual(features['x'].shape, [4, IMAGE_SIZE, IMAGE_SIZE, 3])
    for image, label in zip(features['x'], labels):
      self.assertEqual(self.labels[self._file_of_paper(image)], label)
    self.assertLess(features['x'].min(), 0.0)  # mean-subtracted

  def test_every_image_gets_its_own_draw_under_a_graph_seed(self):
    # tf.test.TestCase sets a graph-level seed, as RunConfig(tf_random_seed)
    # does. Random ops inside the per-file datasets would then restart from
    # the same state for every file; the augmentation map must not.
    folder = os.path.join(self.get_temp_dir(), 'same')
    files = [helpers.write_image(os.path.join(folder, 'f%d.png' % i),
                                 helpers.solid((100, 100, 100), (30, 30),
                                                noise=0))
             for i in range(6)]
    params = _params(6, preprocessing='paper', resize_side=76,
                     pca_lighting=0.1)
    ds = input_lib.make_input_fn(files, [0] * 6, True, params,
                                 input_lib.SkippedFiles())()
    (features, _), = self._batches(ds, count=1)
    shifts = features['x'][:, 0, 0, :] - (100 - np.array(
        preprocessing.MEAN_RGB))
    self.assertLen({tuple(np.round(s, 4)) for s in shifts}, 6)

  def test_evaluation_gives_ten_crops_and_skips_bad_files(self):
    skipped = input_lib.SkippedFiles()
    ds = self._input(False, 4, params=_paper_params(4), skipped=skipped)
    features, labels = tf.compat.v1.data.get_output_shapes(ds)
    self.assertEqual(features['x'].as_list(),
                     [None, 10, IMAGE_SIZE, IMAGE_SIZE, 3])
    batches = self._batches(ds)
    self.assertEqual([len(labels) for _, labels in batches], [4, 4, 2])
    images = np.concatenate([features['x'] for features, _ in batches])
    self.assertAllEqual(images.shape[1:], [10, IMAGE_SIZE, IMAGE_SIZE, 3])
    order = [self._file_of_paper(views[0]) for views in images]
    self.assertEqual(order, [f for f in self.files if f not in self.bad])
    for views, path in zip(images, order):
      self.assertEqual([self._file_of_paper(v) for v in views], [path] * 10)
    self.assertEqual(sorted(skipped.files), self.bad)
    self.assertEqual(skipped.count, len(self.bad))

  def test_evaluation_with_one_crop(self):
    ds = self._input(False, 4, params=_paper_params(4, eval_crops=1))
    features, _ = tf.compat.v1.data.get_output_shapes(ds)
    self.assertEqual(features['x'].as_list(),
                     [None, IMAGE_SIZE, IMAGE_SIZE, 3])

  def test_only_bad_files_give_no_ten_crop_batches(self):
    skipped = input_lib.SkippedFiles()
    self.assertEqual(self._batches(self._input(
        False, 2, files=self.bad, params=_paper_params(2),
        skipped=skipped)), [])
    self.assertEqual(sorted(skipped.files), self.bad)

  def test_prediction_gives_ten_crops_and_names_files(self):
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_predict_input_fn(self.files, _paper_params(3),
                                         skipped)()
    self.assertEqual(
        tf.compat.v1.data.get_output_shapes(ds)['x'].as_list(),
        [None, 10, IMAGE_SIZE, IMAGE_SIZE, 3])
    batches = self._batches(ds)
    names = [f.decode('utf-8') for b in batches for f in b['file']]
    self.assertEqual(names, [f for f in self.files if f not in self.bad])
    images = np.concatenate([b['x'] for b in batches])
    self.assertEqual([self._file_of_paper(views[5]) for views in images],
                     names)
    self.assertEqual(sorted(skipped.files), self.bad)

  def test_tfrecords_give_ten_crops_and_skip_bad_records(self):
    shard = os.path.join(self.get_temp_dir(), 'validation-00000-of-00001')
    with tf.io.TFRecordWriter(shard) as writer:
      for label, path in ((1, self.good[0]), (2, None), (3, self.good[1])):
        data = (open(path, 'rb').read() if path
                else b'\xff\xd8\xff garbage, not a JPEG')
        writer.write(build_tfrecords.make_example(
            data, 24, 20, label, 'n%08d' % label,
            'img_%d.JPEG' % label).SerializeToString())
    skipped = input_lib.SkippedFiles()
    params = _paper_params(4)
    ds = input_lib.make_tfrecord_input_fn([shard], False, params, skipped)()
    self.assertEqual(
        tf.compat.v1.data.get_output_shapes(ds)[0]['x'].as_list(),
        [None, 10, IMAGE_SIZE, IMAGE_SIZE, 3])
    (features, labels), = self._batches(ds)
    self.assertAllEqual(labels, [0, 2])
    self.assertEqual([self._file_of_paper(views[9])
                      for views in features['x']], self.good[:2])
    self.assertEqual(skipped.files, [shard + ' record 1'])
    for train_params in (params, _params(4, random_crop=True)):
      ds = input_lib.make_tfrecord_input_fn([shard], True, train_params,
                                            input_lib.SkippedFiles())()
      self.assertEqual(
          tf.compat.v1.data.get_output_shapes(ds)[0]['x'].as_list(),
          [4, IMAGE_SIZE, IMAGE_SIZE, 3])
      (features, labels), = self._batches(ds, count=1)
      self.assertAllEqual(features['x'].shape, [4, IMAGE_SIZE, IMAGE_SIZE, 3])
      self.assertEqual(set(labels) - {0, 2}, set())


class PackagePredictInputFnTest(_PipelineTestCase):
  """alexnet_estimator.predict_input_fn: its defaults and params=."""

  def _shape(self, input_fn):
    return tf.compat.v1.data.get_output_shapes(input_fn())['x'].as_list()

  def test_defaults_are_the_tutorial_at_224(self):
    self.assertEqual(self._shape(alexnet_estimator.predict_input_fn(
        self.good)), [None, 224, 224, 3])
    input_fn = alexnet_estimator.predict_input_fn(self.good, batch_size=4,
                                                  image_size=IMAGE_SIZE)
    self.assertEqual(self._shape(input_fn), [None, IMAGE_SIZE, IMAGE_SIZE, 3])
    batches = self._batches(input_fn())
    self.assertEqual([len(b['file']) for b in batches], [4, 4, 2])
    self.assertAllInRange(batches[0]['x'], 0.0, 1.0)

  def test_params_give_the_model_preprocessing(self):
    params = params_lib.make_params(recipe='paper', image_size=IMAGE_SIZE,
                                    resize_side=76)
    skipped = input_lib.SkippedFiles()
    input_fn = alexnet_estimator.predict_input_fn(
        self.files, batch_size=3, skipped=skipped, params=params)
    self.assertEqual(self._shape(input_fn),
                     [None, 10, IMAGE_SIZE, IMAGE_SIZE, 3])
    batches = self._batches(input_fn())
    self.assertEqual([len(b['file']) for b in batches], [3, 3, 3, 1])
    self.assertLess(batches[0]['x'].min(), 0.0)  # mean-subtracted
    self.assertEqual(sorted(skipped.files), self.bad)
    # An explicit image_size wins over params'.
    self.assertEqual(self._shape(alexnet_estimator.predict_input_fn(
        self.good, image_size=70, params=params)),
                     [None, 10, 70, 70, 3])


class SkippedFilesTest(tf.test.TestCase):

  def test_records_and_warns_once_per_file(self):
    skipped = input_lib.SkippedFiles()
    self.assertEqual((skipped.count, skipped.files), (0, []))
    with self.assertLogs('absl', level='WARNING') as logs:
      skipped.add(b'/x/bad.jpg')
      skipped.add('/x/bad.jpg')
      skipped.add(u'/x/caf\u00e9.png'.encode('utf-8'))
      skipped.add(u'/x/caf\u00e9.png')
    self.assertLen(logs.records, 2)
    self.assertIn('/x/bad.jpg', logs.records[0].getMessage())
    self.assertEqual(skipped.files, ['/x/bad.jpg', u'/x/caf\u00e9.png'])
    self.assertEqual(skipped.count, 2)

  def test_files_is_a_copy(self):
    skipped = input_lib.SkippedFiles()
    skipped.add('a')
    skipped.files.append('b')
    self.assertEqual(skipped.files, ['a'])


class SyntheticInputTest(tf.test.TestCase):

  def test_shapes_dtypes_and_ranges(self):
    params = params_lib.make_params(image_size=IMAGE_SIZE, batch_size=2,
                                    num_classes=5)
    ds = input_lib.make_synthetic_input_fn(params)()
    features, labels = tf.compat.v1.data.get_output_shapes(ds)
    self.assertEqual(features['x'].as_list(), [2, IMAGE_SIZE, IMAGE_SIZE, 3])
    self.assertEqual(labels.as_list(), [2])
    next_batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    with self.cached_session() as sess:
      first, second, third = [sess.run(next_batch) for _ in range(3)]
    features, labels = third
    self.assertEqual(features['x'].dtype, np.float32)
    self.assertEqual(labels.dtype, np.int32)
    self.assertAllInRange(features['x'], 0.0, 1.0)
    self.assertTrue(np.all((labels >= 0) & (labels < 5)))
    self.assertGreater(np.std(features['x']), 0.1)  # random, not constant
    # Made once and repeated: every batch is the same.
    self.assertAllEqual(first[0]['x'], features['x'])
    self.assertAllEqual(second[1], labels)


@pytest.mark.slow
class AllBadTrainingInputTest(tf.test.TestCase):

  def test_training_input_of_only_unreadable_files_ends(self):
    root = self.get_temp_dir()
    files = [helpers.write(os.path.join(root, 'a', name), data)
             for name, data in sorted(helpers.bad_files().items())]
    script = textwrap.dedent("""
        import sys
        import tensorflow as tf
        from alexnet_estimator import input_fn, params
        ds = input_fn.make_input_fn(
            sys.argv[1:], [0] * len(sys.argv[1:]), True,
            params.make_params(image_size=67, batch_size=2),
            input_fn.SkippedFiles())()
        batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
        with tf.Session() as sess:
          try:
            sess.run(batch)
          except tf.errors.OutOfRangeError:
            print('ended')
        """)
    child = subprocess.Popen([sys.executable, '-c', script] + files,
                             cwd=helpers.ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL,
                             universal_newlines=True)
    try:  # a subprocess, so that a regression fails instead of hanging
      out, _ = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
      child.kill()
      child.wait()
      self.fail('the training input spun without a batch or an end')
    self.assertEqual(out.strip(), 'ended')


if __name__ == '__main__':
  tf.test.main()
