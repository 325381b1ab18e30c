"""Tests for TFRecord sets: layouts, names, damage, reading, training on them.

Shards are written here the way each layout's builder writes them: our
writers follow the documented feature keys and file names of
build_imagenet_data.py / imagenet_to_gcs.py (image/encoded, image/class/label
1..N, image/class/synset, ...) and of TensorFlow Datasets (image, label 0..N-1,
file_name; NAME-train.tfrecord-00000-of-00001, label.labels.txt,
dataset_info.json with shardLengths).
"""
import collections
import json
import os
import shutil
import struct
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from alexnet_estimator import build_tfrecords
from alexnet_estimator import data as data_lib
from alexnet_estimator import imagenet
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import tfrecords
from tests import helpers

def write_tfds_shards(folder, name, split, labels_per_shard, synsets=None):
  """Writes TFDS-prepared shards: features image, label (0-based), file_name.

  Returns:
    The records of each shard (TFDS's shardLengths).
  """
  if not os.path.isdir(folder):
    os.makedirs(folder)
  lengths = []
  for index, labels in enumerate(labels_per_shard):
    path = os.path.join(folder, '%s-%s.tfrecord-%05d-of-%05d' % (
        name, split, index, len(labels_per_shard)))
    with tf.io.TFRecordWriter(path) as writer:
      for i, label in enumerate(labels):
        file_name = ('%s_%d.JPEG' % (synsets[label], i) if synsets
                     else 'image_%d_%d.jpg' % (index, i))
        writer.write(tf.train.Example(features=tf.train.Features(feature={
            'image': build_tfrecords._bytes(helpers.label_jpeg(label)),
            'label': build_tfrecords._int64(label),
            'file_name': build_tfrecords._bytes(file_name.encode()),
        })).SerializeToString())
    lengths.append(len(labels))
  return lengths


def write_tfds_info(folder, name, lengths_by_split):
  """TFDS's dataset_info.json: splits with their shardLengths (strings)."""
  info = {'name': name, 'version': os.path.basename(folder),
          'splits': [{'name': split, 'shardLengths': [str(n) for n in lengths],
                      'numBytes': '0'}
                     for split, lengths in sorted(lengths_by_split.items())]}
  with open(os.path.join(folder, 'dataset_info.json'), 'w') as f:
    json.dump(info, f)


def record_offsets(path):
  """The byte offset and data length of each record of a healthy shard."""
  with open(path, 'rb') as f:
    data = f.read()
  found, position = [], 0
  while position < len(data):
    length = struct.unpack('<Q', data[position:position + 8])[0]
    found.append((position, length))
    position += 16 + length
  return found


def damage(path, index, where):
  """Damages record `index`: 'data' flips a byte of its image, 'header' one of
  its length, 'truncate' cuts the file inside it."""
  offset, length = record_offsets(path)[index]
  with open(path, 'rb') as f:
    data = bytearray(f.read())
  if where == 'truncate':
    data = data[:offset + 12 + length // 2]
  else:
    data[offset + (3 if where == 'header' else 12 + length // 2)] ^= 0x55
  with open(path, 'wb') as f:
    f.write(bytes(data))


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
    helpers.write_imagenet_shards(root, 'train', [[1, 2, 3], [1000, 7]])
    helpers.write_imagenet_shards(root, 'validation', [[1, 1000]])
    self.assertTrue(tfrecords.is_tfrecord_dir(root))
    self.assertFalse(tfrecords.is_tfrecord_dir(os.path.join(root, 'none')))
    described = tfrecords.describe(root)
    self.assertEqual((described.num_train, described.num_validation), (5, 2))
    self.assertEqual(described.label_offset, 1)
    self.assertEqual(len(described.class_names), 1000)
    self.assertEqual(described.class_names[0], helpers.SYNSETS[0])
    self.assertEqual(described.class_names[999], helpers.SYNSETS[999])
    self.assertEqual(described.class_names[5], '6')  # no record names it

  def test_labels_file_wins(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [[1, 2]])
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
    helpers.write_imagenet_shards(root, 'train', [[1, 2, 3, 4]])
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


  def test_a_class_missing_from_validation_keeps_its_records_and_name(self):
    # Issue 13, case 1: the classes came from the validation records only.
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [[1, 2, 3, 4] * 4, [4, 1]])
    helpers.write_imagenet_shards(root, 'validation', [[1, 2, 3]])
    with self.assertLogs('absl', level='WARNING') as logs:
      described = tfrecords.describe(root)
    self.assertEqual(described.class_names, tuple(helpers.SYNSETS[:4]))
    self.assertIn('no validation record', logs.output[0])
    self.assertIn(helpers.SYNSETS[3], logs.output[0])
    params = params_lib.make_params(image_size=67, batch_size=6,
                                    num_classes=4)
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_tfrecord_input_fn(described.train, False, params,
                                          skipped)()
    labels = np.concatenate([b[1] for b in _batches(self, ds)])
    self.assertEqual(collections.Counter(labels.tolist()),
                     {0: 5, 1: 4, 2: 4, 3: 5})
    self.assertEqual((skipped.count, skipped.lost_records), (0, 0))

  def test_damaged_validation_shards_never_stop_start_up(self):
    # Issue 13, cases 2 and 3: without dataset_info.json the names were read
    # with tf_record_iterator, which raised DataLossError at the damage.
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [[1, 2, 3, 4]])
    helpers.write_imagenet_shards(root, 'validation', [[1, 2, 3, 4]] * 3)
    truncated, corrupt, broken = tfrecords.shards(root, 'validation')
    damage(truncated, 2, 'truncate')
    damage(corrupt, 1, 'data')
    damage(broken, 3, 'header')
    with self.assertLogs('absl', level='WARNING') as logs:
      described = tfrecords.describe(root)
    self.assertEqual(described.class_names, tuple(helpers.SYNSETS[:4]))
    # Counted from the headers up to each break, and the record at the
    # break, which reading counts as lost: 2 + 1, 4, 3 + 1.
    self.assertEqual((described.num_train, described.num_validation), (4, 11))
    self.assertLen(logs.output, 3)  # each shard named once
    log = '\n'.join(logs.output)
    self.assertIn('%s is truncated: it ends inside record 2' % truncated, log)
    self.assertIn('%s: record 1 ' % corrupt, log)
    self.assertIn('%s: the length header of record 3' % broken, log)

  def test_imagenet_synsets_at_their_labels_give_imagenet_classes(self):
    # Issue 13, case 6: 4 synsets written with the real 1000-synset labels
    # file keep ImageNet's numbering, 1000 outputs and ImageNet's names.
    root = self.get_temp_dir()
    real = imagenet.synsets()
    helpers.write_imagenet_shards(root, 'train', [[1, 2], [60, 231]], synsets=real)
    helpers.write_imagenet_shards(root, 'validation', [[1, 231]], synsets=real)
    described = tfrecords.describe(root)
    self.assertEqual(described.class_names, imagenet.class_names())
    self.assertEqual(described.class_names[59], imagenet.classes()[59][1])

  def test_imagenet_synsets_numbered_otherwise_keep_their_own_classes(self):
    root = self.get_temp_dir()
    # Labels 1..3 for ImageNet's classes 5, 7 and 9: not ImageNet's order.
    shuffled = [imagenet.synsets()[i] for i in (5, 7, 9)]
    helpers.write_imagenet_shards(root, 'train', [[1, 2, 3]], synsets=shuffled)
    helpers.write_imagenet_shards(root, 'validation', [[1, 2, 3]], synsets=shuffled)
    self.assertEqual(tfrecords.describe(root).class_names, tuple(shuffled))

  def test_imagenet_synsets_in_dataset_info_get_their_names(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [[1, 2]])
    tfrecords.write_info(root, {'class_names': list(imagenet.synsets()),
                                'label_offset': 1,
                                'num_records': {'train': 2,
                                                'validation': 0}})
    self.assertEqual(tfrecords.describe(root).class_names,
                     imagenet.class_names())


class LayoutTest(tf.test.TestCase):
  """Every layout is found with no flag, and open_data reads it."""

  def _params(self, num_classes):
    return params_lib.make_params(image_size=67, batch_size=8,
                                  num_classes=num_classes)

  def _labels(self, source, num_classes):
    skipped = input_lib.SkippedFiles()
    ds = source.eval_input_fn(self._params(num_classes), skipped)()
    labels = sorted(np.concatenate([b[1] for b in _batches(self, ds)]))
    self.assertEqual(skipped.count, 0)
    return labels

  def test_imagenet_to_gcs_layout_from_its_root_or_its_train_folder(self):
    # Issue 13, case 4: OUT/train/train-* and OUT/validation/validation-*.
    root = os.path.join(self.get_temp_dir(), 'out')
    helpers.write_imagenet_shards(os.path.join(root, 'train'), 'train',
                          [[1, 2], [3, 1]])
    helpers.write_imagenet_shards(os.path.join(root, 'validation'), 'validation',
                          [[1, 2, 3]])
    for data_dir in (root, os.path.join(root, 'train')):
      layout = tfrecords.find_layout(data_dir)
      self.assertEqual(layout.kind, 'imagenet_to_gcs', data_dir)
      self.assertEqual(layout.validation, tfrecords.shards(
          os.path.join(root, 'validation'), 'validation'))
      source = data_lib.open_data(data_dir)
      self.assertEqual(source.class_names, tuple(helpers.SYNSETS[:3]))
      self.assertEqual((source.num_train, source.num_validation), (4, 3))
      self.assertIn('imagenet_to_gcs layout', source.description)
      self.assertEqual(self._labels(source, 3), [0, 1, 2])

  def test_flat_layout(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [[1, 2]])
    helpers.write_imagenet_shards(root, 'validation', [[2, 1]])
    self.assertEqual(tfrecords.find_layout(root).kind, 'flat')
    self.assertIsNone(tfrecords.find_layout(os.path.join(root, 'none')))

  def test_tfds_set_with_names_counts_and_versions(self):
    home = os.path.join(self.get_temp_dir(), 'cats_dogs')
    folder = os.path.join(home, '2.1.0')
    lengths = {'train': write_tfds_shards(folder, 'cats_dogs', 'train',
                                          [[0, 1, 2], [2, 1]]),
               'test': write_tfds_shards(folder, 'cats_dogs', 'test',
                                         [[0, 1, 2]])}
    write_tfds_info(folder, 'cats_dogs', lengths)
    with open(os.path.join(folder, 'label.labels.txt'), 'w') as f:
      f.write('cat\ndog\nfox\n')
    # An older version beside it is not read.
    write_tfds_shards(os.path.join(home, '1.0.0'), 'cats_dogs', 'train',
                      [[0]])
    layout = tfrecords.find_layout(home)
    self.assertEqual((layout.kind, layout.root, layout.validation_split),
                     ('tfds', folder, 'test'))
    source = data_lib.open_data(home)
    self.assertEqual(source.class_names, ('cat', 'dog', 'fox'))
    self.assertEqual((source.num_train, source.num_validation), (5, 3))
    self.assertIn('tfds layout, label offset 0', source.description)
    self.assertEqual(self._labels(source, 3), [0, 1, 2])  # 0-based kept

  def test_tfds_imagenet2012_gets_imagenet_names(self):
    folder = os.path.join(self.get_temp_dir(), 'imagenet2012', '5.1.0')
    real = imagenet.synsets()
    write_tfds_shards(folder, 'imagenet2012', 'train', [[0, 999]], real)
    write_tfds_shards(folder, 'imagenet2012', 'validation', [[5]], real)
    with open(os.path.join(folder, 'label.labels.txt'), 'w') as f:
      f.write('\n'.join(real) + '\n')
    described = tfrecords.describe(folder)
    self.assertEqual(described.class_names, imagenet.class_names())
    self.assertEqual((described.num_train, described.num_validation), (2, 1))
    # Without its names file, the records' file names give the synsets.
    os.remove(os.path.join(folder, 'label.labels.txt'))
    self.assertEqual(tfrecords.describe(folder).class_names,
                     imagenet.class_names())


class ReadRecordsTest(tf.test.TestCase):

  def test_masked_crc_matches_tensorflow(self):
    path = os.path.join(self.get_temp_dir(), 'one')
    with tf.io.TFRecordWriter(path) as writer:
      writer.write(b'abc')
    with open(path, 'rb') as f:
      header = f.read(12)
    self.assertEqual(tfrecords.masked_crc32c(header[:8]),
                     struct.unpack('<I', header[8:])[0])

  def _read(self, path):
    records, damages = [], []
    for index, record, found in tfrecords.read_records(path):
      if found is None:
        records.append(index)
      else:
        damages.append((found.index, found.kind))
    return records, damages

  def test_each_kind_of_damage(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [list(range(1, 7))] * 3)
    corrupt, broken, truncated = tfrecords.shards(root, 'train')
    damage(corrupt, 2, 'data')
    damage(broken, 2, 'header')
    damage(truncated, 4, 'truncate')
    self.assertEqual(self._read(corrupt),
                     ([0, 1, 3, 4, 5], [(2, tfrecords.CORRUPT_RECORD)]))
    self.assertEqual(self._read(broken),
                     ([0, 1], [(2, tfrecords.CORRUPT_HEADER)]))
    self.assertEqual(self._read(truncated),
                     ([0, 1, 2, 3], [(4, tfrecords.TRUNCATED)]))
    self.assertEqual(tfrecords.scan(corrupt)[0], 6)  # headers intact
    self.assertEqual(tfrecords.scan(broken)[0], 2)
    self.assertEqual(tfrecords.scan(truncated)[0], 4)
    missing = os.path.join(root, 'gone')
    self.assertEqual(self._read(missing),
                     ([], [(0, tfrecords.UNREADABLE)]))


class TFRecordInputTest(tf.test.TestCase):

  def _params(self, **kwargs):
    return params_lib.make_params(dict(image_size=67, batch_size=3,
                                       num_classes=1000), **kwargs)

  def test_eval_reads_every_record_once_and_skips_bad_ones(self):
    root = self.get_temp_dir()
    labels = helpers.write_imagenet_shards(
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
    helpers.write_imagenet_shards(root, 'validation', [[1, 2, 3], [4, 5, 6]])
    path = tfrecords.shards(root, 'validation')[0]
    with open(path, 'rb') as f:
      data = f.read()
    with open(path, 'wb') as f:
      f.write(data[:-100])
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_tfrecord_input_fn(
        tfrecords.shards(root, 'validation'), False, self._params(),
        skipped)()
    got = np.concatenate([b[1] for b in _batches(self, ds)])
    self.assertAllEqual(sorted(got), [0, 1, 3, 4, 5])
    self.assertEqual(skipped.lost_records, 1)  # the partial record 2
    self.assertIn('%s is truncated' % path, skipped.lost[0][3])

  def test_a_corrupt_record_is_skipped_counted_and_the_rest_read(self):
    # Issue 13, case 3: one flipped byte in record 3 of a 20-record shard
    # lost the rest of the shard, silently.
    root = self.get_temp_dir()
    labels = helpers.write_imagenet_shards(root, 'validation',
                                   [list(range(1, 21)), [21, 22]])
    shard = tfrecords.shards(root, 'validation')[0]
    damage(shard, 3, 'data')
    skipped = input_lib.SkippedFiles()
    with self.assertLogs('absl', level='WARNING') as logs:
      ds = input_lib.make_tfrecord_input_fn(
          tfrecords.shards(root, 'validation'), False, self._params(),
          skipped)()
      got = np.concatenate([b[1] for b in _batches(self, ds)])
      skipped.log_total('the validation set')
    self.assertAllEqual(sorted(got), [l - 1 for l in labels if l != 4])
    self.assertEqual((skipped.count, skipped.lost_records), (0, 1))
    self.assertEqual(skipped.lost[0][:3], (shard, 3, 1))
    log = '\n'.join(logs.output)
    self.assertIn('%s: record 3 (byte' % shard, log)
    self.assertIn('Could not read 1 record(s)', log)

  def test_training_reads_past_a_corrupt_record_every_epoch(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [list(range(1, 17))])
    shard = tfrecords.shards(root, 'train')[0]
    damage(shard, 5, 'data')
    skipped = input_lib.SkippedFiles()
    ds = input_lib.make_tfrecord_input_fn(
        [shard], True, self._params(batch_size=5, shuffle_buffer=16),
        skipped)()
    next_batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    with self.cached_session() as sess:
      labels = np.concatenate([sess.run(next_batch)[1] for _ in range(6)])
    counts = collections.Counter(labels.tolist())
    self.assertNotIn(5, counts)  # record 5 holds label 6, class 5
    self.assertEqual(sorted(counts), [c for c in range(16) if c != 5])
    self.assertEqual(sum(counts.values()), 30)  # two epochs of 15
    self.assertEqual(set(counts.values()), {2})
    self.assertEqual(skipped.lost_records, 1)  # named once, not per epoch

  def test_a_broken_shard_loses_its_rest_counted_from_its_known_size(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'validation', [[1, 2, 3, 4, 5, 6], [7]])
    broken, whole = tfrecords.shards(root, 'validation')
    damage(broken, 2, 'header')
    for shard_records, lost in (({broken: 6, whole: 1}, 4), (None, 1)):
      skipped = input_lib.SkippedFiles()
      ds = input_lib.make_tfrecord_input_fn(
          [broken, whole], False, self._params(), skipped,
          shard_records=shard_records)()
      got = np.concatenate([b[1] for b in _batches(self, ds)])
      self.assertAllEqual(sorted(got), [0, 1, 6])
      self.assertEqual(skipped.lost_records, lost)
      self.assertIn('length header of record 2', skipped.lost[0][3])

  def test_a_label_outside_the_classes_is_skipped_for_that_reason(self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'validation', [[1, 5, 2]])
    skipped = input_lib.SkippedFiles()
    with self.assertLogs('absl', level='WARNING') as logs:
      ds = input_lib.make_tfrecord_input_fn(
          tfrecords.shards(root, 'validation'), False,
          self._params(num_classes=3), skipped)()
      got = np.concatenate([b[1] for b in _batches(self, ds)])
    self.assertAllEqual(got, [0, 1])
    self.assertEqual(skipped.files, [tfrecords.shards(
        root, 'validation')[0] + ' record 1'])
    self.assertIn('its label 5 is not one of the 3 classes', logs.output[0])
    self.assertNotIn('not a readable', logs.output[0])

  def test_training_with_random_crop_repeats_and_each_pipeline_has_its_part(
      self):
    root = self.get_temp_dir()
    helpers.write_imagenet_shards(root, 'train', [[1, 2], [3, 4], [5, 6], [7, 8]])
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
    helpers.write_imagenet_shards(data_dir, 'train', [[1, 500, 1000, 2],
                                              [3, 999, 4, 5]])
    validation = helpers.write_imagenet_shards(data_dir, 'validation',
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
    self.assertEqual(names[499], helpers.SYNSETS[499])


if __name__ == '__main__':
  tf.test.main()
