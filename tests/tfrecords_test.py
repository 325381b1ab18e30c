"""Tests for ImageNet-style TFRecords: describing, reading, training on them."""
import collections
import json
import os
import shutil
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from alexnet_estimator import build_tfrecords
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import tfrecords
from tests import helpers

SYNSETS = ['n%08d' % i for i in range(1000)]


def write_imagenet_shards(root, split, labels_per_shard, bad_label=None):
  """Writes shards in build_imagenet_data.py's format; returns their labels.

  Labels are 1..1000; each record is a solid JPEG of COLOURS[label % 8].
  `bad_label`: that record gets bytes that are not an image.
  """
  written = []
  for index, labels in enumerate(labels_per_shard):
    path = os.path.join(root, '%s-%05d-of-%05d' % (split, index,
                                                   len(labels_per_shard)))
    with tf.io.TFRecordWriter(path) as writer:
      for label in labels:
        colour = helpers.COLOURS[label % len(helpers.COLOURS)]
        jpeg = helpers.encode(helpers.solid(colour, (40, 30)), 'RGB', 'JPEG')
        if label == bad_label:
          jpeg = b'\xff\xd8\xff garbage, not a JPEG'
        writer.write(build_tfrecords.make_example(
            jpeg, 30, 40, label, SYNSETS[label - 1],
            'img_%d.JPEG' % label).SerializeToString())
        written.append(label)
  return written


def _batches(test, ds):
  next_batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
  out = []
  with test.cached_session() as sess:
    while True:
      try:
        out.append(sess.run(next_batch))
      except tf.errors.OutOfRangeError:
        return out


class DescribeTest(tf.test.TestCase):

  def test_counts_names_and_detection(self):
    root = self.get_temp_dir()
    write_imagenet_shards(root, 'train', [[1, 2, 3], [1000, 7]])
    write_imagenet_shards(root, 'validation', [[1, 1000]])
    self.assertTrue(tfrecords.is_tfrecord_dir(root))
    self.assertFalse(tfrecords.is_tfrecord_dir(os.path.join(root, 'none')))
    described = tfrecords.describe(root)
    self.assertEqual((described.num_train, described.num_validation), (5, 2))
    self.assertEqual(described.label_offset, 1)
    self.assertEqual(len(described.class_names), 1000)
    self.assertEqual(described.class_names[0], SYNSETS[0])
    self.assertEqual(described.class_names[999], SYNSETS[999])
    self.assertEqual(described.class_names[5], '6')  # no record names it

  def test_labels_file_wins(self):
    root = self.get_temp_dir()
    write_imagenet_shards(root, 'train', [[1, 2]])
    labels = os.path.join(root, 'synsets.txt')
    with open(labels, 'w') as f:
      f.write('\n'.join('name%d' % i for i in range(1000)) + '\n')
    described = tfrecords.describe(root, labels_file=labels)
    self.assertEqual(described.class_names[:2], ('name0', 'name1'))
    self.assertEqual(len(described.class_names), 1000)
    with self.assertRaisesRegex(tfrecords.TFRecordError, 'nowhere.txt'):
      tfrecords.describe(root, labels_file=os.path.join(root, 'nowhere.txt'))

  def test_truncated_shard_is_counted_to_its_break(self):
    root = self.get_temp_dir()
    write_imagenet_shards(root, 'train', [[1, 2, 3, 4]])
    path = tfrecords.shards(root, 'train')[0]
    self.assertEqual(tfrecords.scan_shard(path), (4, False))
    with open(path, 'rb') as f:
      data = f.read()
    with open(path, 'wb') as f:
      f.write(data[:-100])  # inside the last record
    self.assertEqual(tfrecords.scan_shard(path), (3, True))
    with self.assertLogs('absl', level='WARNING') as logs:
      self.assertEqual(tfrecords.count_records([path]), 3)
    self.assertIn(path, logs.records[0].getMessage())


class TFRecordInputTest(tf.test.TestCase):

  def _params(self, **kwargs):
    return params_lib.make_params(dict(image_size=67, batch_size=3,
                                       num_classes=1000), **kwargs)

  def test_eval_reads_every_record_once_and_skips_bad_ones(self):
    root = self.get_temp_dir()
    labels = write_imagenet_shards(
        root, 'validation', [[1, 2, 3, 4], [5, 6, 7], [8, 9, 1000]],
        bad_label=6)
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_tfrecord_input_fn(
        tfrecords.shards(root, 'validation'), False, self._params(),
        skipped)()
    got = np.concatenate([b[1] for b in _batches(self, ds)])
    expected = [l - 1 for l in labels if l != 6]
    self.assertAllEqual(sorted(got), expected)  # each once, offset applied
    self.assertEqual(skipped.count, 1)
    self.assertIn('validation-00001-of-00003 record 1', skipped.files[0])

  def test_truncated_shard_ends_that_shard_only(self):
    root = self.get_temp_dir()
    write_imagenet_shards(root, 'validation', [[1, 2, 3], [4, 5, 6]])
    path = tfrecords.shards(root, 'validation')[0]
    with open(path, 'rb') as f:
      data = f.read()
    with open(path, 'wb') as f:
      f.write(data[:-100])
    ds = input_lib.make_tfrecord_input_fn(
        tfrecords.shards(root, 'validation'), False, self._params(),
        input_lib.SkippedFiles())()
    got = np.concatenate([b[1] for b in _batches(self, ds)])
    self.assertAllEqual(sorted(got), [0, 1, 3, 4, 5])

  def test_training_with_random_crop_repeats_and_each_pipeline_has_its_part(
      self):
    root = self.get_temp_dir()
    write_imagenet_shards(root, 'train', [[1, 2], [3, 4], [5, 6], [7, 8]])
    shards = tfrecords.shards(root, 'train')
    params = self._params(batch_size=2, random_crop=True, shuffle_buffer=4,
                          cache_input=True, datasets_num_private_threads=2)
    seen = []
    for pipeline in range(2):
      context = tf.distribute.InputContext(
          num_input_pipelines=2, input_pipeline_id=pipeline,
          num_replicas_in_sync=2)
      ds = input_lib.make_tfrecord_input_fn(
          shards, True, params, input_lib.SkippedFiles())(context)
      self.assertEqual(ds.output_shapes[0]['x'].as_list(), [2, 67, 67, 3])
      next_batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
      with self.cached_session() as sess:
        batches = [sess.run(next_batch) for _ in range(6)]  # 3 epochs
      labels = np.concatenate([b[1] for b in batches])
      counts = collections.Counter(labels.tolist())
      self.assertEqual(len(counts), 4)  # its 2 shards of 2 records
      self.assertEqual(set(counts.values()), {3})
      seen.append(set(counts))
    self.assertFalse(seen[0] & seen[1])
    self.assertEqual(seen[0] | seen[1], set(range(8)))


@pytest.mark.slow
class FakeImagenetEndToEndTest(tf.test.TestCase):

  def test_trains_evaluates_and_exports(self):
    root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, root, True)
    data_dir = os.path.join(root, 'imagenet')
    os.makedirs(data_dir)
    write_imagenet_shards(data_dir, 'train', [[1, 500, 1000, 2],
                                              [3, 999, 4, 5]])
    validation = write_imagenet_shards(data_dir, 'validation',
                                       [[1, 2, 1000], [500, 3]])
    model_dir = os.path.join(root, 'model')
    code, stdout, stderr = helpers.run_cli(
        '--data_dir', data_dir, '--model_dir', model_dir,
        '--max_train_steps', '2', '--image_size', '67', '--batch_size', '4',
        '--export_dir', os.path.join(root, 'export'))
    self.assertEqual(code, 0, stderr)
    lines = stdout.strip().splitlines()
    metrics = json.loads(lines[-1])
    self.assertEqual(metrics['num_images'], len(validation))
    self.assertEqual(metrics['global_step'], 2)
    self.assertTrue(tf.saved_model.contains_saved_model(lines[-2]))
    with open(os.path.join(model_dir, 'alexnet_model.json')) as f:
      names = json.load(f)['class_names']
    self.assertEqual(len(names), 1000)
    self.assertEqual(names[499], SYNSETS[499])


if __name__ == '__main__':
  tf.test.main()
