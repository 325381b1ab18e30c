"""ImageNet-style TFRecords: the format, finding shards, and describing a set.

The format is the one tensorflow/models' `build_imagenet_data.py` (inception)
and tensorflow/tpu's `imagenet_to_gcs.py` write, and our build_tfrecords too:
shards `DATA/train-00000-of-01024` and `DATA/validation-00000-of-00128` of
tf.train.Examples with

  image/encoded        the encoded image (JPEG)
  image/class/label    int64, 1..N: 0 is unused, hence label_offset=1
  image/class/synset   optional, e.g. 'n01440764'
  image/class/text     optional, e.g. 'tench, Tinca tinca'
  image/height, image/width, image/filename   optional

A set may carry `dataset_info.json` (build_tfrecords writes it) with its class
names, label offset and record counts. Without it, records are counted by
walking the shards' record headers (no data is read), and class names come
from `--labels_file` or from the synsets of the validation records.
"""
import collections
import os
import struct

from absl import logging
import tensorflow as tf

from alexnet_estimator import errors
from alexnet_estimator import files

INFO_FILE = 'dataset_info.json'
# Labels of ImageNet's builders run 1..1000; id 0 is "background", unused.
DEFAULT_LABEL_OFFSET = 1
# Written while a shard is incomplete; never matched as a shard.
TEMP_MARKER = files.TEMP_MARKER

FEATURES = {
    'image/encoded': tf.io.FixedLenFeature([], tf.string, default_value=''),
    'image/class/label': tf.io.FixedLenFeature([], tf.int64,
                                               default_value=-1),
}

TFRecordSet = collections.namedtuple(
    'TFRecordSet', ['class_names', 'label_offset', 'train', 'validation',
                    'num_train', 'num_validation'])


TFRecordError = errors.TFRecordError  # the one-line error of this module


def shards(data_dir, split):
  """Sorted paths of the complete `split` shards in `data_dir`."""
  if not tf.io.gfile.isdir(data_dir):
    return []
  found = tf.io.gfile.glob(os.path.join(data_dir, '%s-*' % split))
  return sorted(p for p in found
                if TEMP_MARKER not in os.path.basename(p) and
                not tf.io.gfile.isdir(p))


def is_tfrecord_dir(data_dir):
  """True if `data_dir` holds training shards named train-*."""
  return tf.io.gfile.isdir(data_dir) and bool(shards(data_dir, 'train'))


def scan_shard(path):
  """Counts a shard's records from their length headers, reading no data.

  Returns:
    (number of complete records, True if the file ends inside a record).
  """
  size = tf.io.gfile.stat(path).length
  count, position = 0, 0
  with tf.io.gfile.GFile(path, 'rb') as f:
    while position < size:
      header = f.read(12)  # uint64 length, uint32 crc of the length
      if len(header) < 12:
        return count, True
      length = struct.unpack('<Q', header[:8])[0]
      position += 12 + length + 4  # data, uint32 crc of the data
      if position > size:
        return count, True
      f.seek(position)
      count += 1
  return count, False


def count_records(paths):
  """Total complete records of `paths`; warns about each truncated shard."""
  total = 0
  for path in paths:
    count, truncated = scan_shard(path)
    if truncated:
      logging.warning('%s is truncated after %d records; training reads '
                      'those and goes on.', path, count)
    total += count
  return total


def read_info(data_dir):
  """The set's dataset_info.json as a dict, or None."""
  try:
    return files.read_json(os.path.join(data_dir, INFO_FILE))
  except ValueError as e:
    raise TFRecordError(str(e))


def write_info(out_dir, info):
  """Writes dataset_info.json atomically."""
  files.write_json(os.path.join(out_dir, INFO_FILE), info)


def _names_from_records(paths, label_offset):
  """Class names from the records' synsets (or texts), indexed by class id."""
  names = {}
  for path in paths:
    for record in tf.compat.v1.io.tf_record_iterator(path):
      features = tf.train.Example.FromString(record).features.feature
      label = features['image/class/label'].int64_list.value[0]
      if label in names:
        continue
      for key in ('image/class/synset', 'image/class/text'):
        if key in features and features[key].bytes_list.value:
          names[label] = features[key].bytes_list.value[0].decode('utf-8')
          break
      else:
        names[label] = str(label)
  if not names:
    return ()
  if min(names) < label_offset:
    raise TFRecordError('%s has label %d, below --label_offset %d'
                        % (os.path.dirname(paths[0]), min(names),
                           label_offset))
  return tuple(names.get(label, str(label))
               for label in range(label_offset, max(names) + 1))


def _read_labels_file(path):
  try:
    with tf.io.gfile.GFile(path) as f:
      names = [line.strip() for line in f if line.strip()]
  except tf.errors.NotFoundError:
    raise TFRecordError('--labels_file %s: no such file' % path)
  if not names:
    raise TFRecordError('--labels_file %s is empty' % path)
  return tuple(names)


def describe(data_dir, label_offset=None, labels_file=None):
  """Describes the TFRecord set in `data_dir`.

  Args:
    data_dir: folder with train-* and validation-* shards.
    label_offset: stored label of class id 0; None takes dataset_info.json's,
      else DEFAULT_LABEL_OFFSET.
    labels_file: optional text file of class names, one per line, in label
      order; it wins over every other source of names.

  Returns:
    A TFRecordSet.

  Raises:
    TFRecordError: no names can be found, or a label is below the offset.
  """
  info = read_info(data_dir) or {}
  if label_offset is None:
    label_offset = info.get('label_offset', DEFAULT_LABEL_OFFSET)
  train, validation = shards(data_dir, 'train'), shards(data_dir, 'validation')
  if labels_file:
    class_names = _read_labels_file(labels_file)
  elif info.get('class_names'):
    class_names = tuple(info['class_names'])
  else:
    logging.info('Reading class names from the records of %d shards (write '
                 '%s or pass --labels_file to skip this).',
                 len(validation or train), INFO_FILE)
    class_names = _names_from_records(validation or train, label_offset)
  if not class_names:
    raise TFRecordError('%s: no class names found in its records; pass '
                        '--labels_file' % data_dir)
  counts = info.get('num_records') or {}
  num_train = counts.get('train')
  num_validation = counts.get('validation')
  if num_train is None:
    num_train = count_records(train)
  if num_validation is None:
    num_validation = count_records(validation)
  return TFRecordSet(class_names, label_offset, train, validation, num_train,
                     num_validation)
