"""TFRecord image sets as the world writes them: layouts, framing, describing.

Three layouts are found with no flag (`find_layout`):

  flat             DATA/train-00000-of-01024, DATA/validation-00000-of-00128:
                   tensorflow/models' build_imagenet_data.py (inception and
                   slim) and our build_tfrecords.
  imagenet_to_gcs  DATA/train/train-*, DATA/validation/validation-*: the local
                   output of tensorflow/tpu's imagenet_to_gcs.py (DATA/train
                   alone finds its validation/ sibling).
  tfds             DATA/NAME-train.tfrecord-00000-of-01024 and
                   NAME-validation.tfrecord-* (or -test.): a TensorFlow
                   Datasets image classification set as prepared on disk, e.g.
                   imagenet2012/5.1.0/ (DATA may be the folder of its
                   versions: the newest is read). Read with tf.data; TFDS is
                   not needed.

The first two store tf.train.Examples with `image/encoded` (JPEG),
`image/class/label` (int64, 1..N: label_offset 1) and, optionally,
`image/class/synset`, `image/class/text`, `image/filename`; TFDS stores
`image`, `label` (0..N-1: label_offset 0) and `file_name`.

Classes and names come from everything the set says (`describe`):
--labels_file, else the set's dataset_info.json (ours; TFDS's own for
counts), TFDS's label.labels.txt, else the records of both splits. Records
whose synsets are ImageNet's, at their ILSVRC-2012 label, give ImageNet's 1000
classes and human-readable names whatever subset is there (imagenet.py).

Damage never raises: `read_records` reads a shard the way its framing allows
(a corrupt record is skipped and reading goes on after it; a truncated file
or a corrupt length header ends the shard) and reports each `Damage` with the
shard and record index.
"""
import collections
import os
import re
import struct

from absl import logging
from google.protobuf import message as protobuf_message
import tensorflow as tf
from tensorflow.python import pywrap_tensorflow
from tensorflow.python.framework import errors as tf_errors

from alexnet_estimator import errors
from alexnet_estimator import files
from alexnet_estimator import imagenet

INFO_FILE = 'dataset_info.json'
# Labels of ImageNet's builders run 1..1000; id 0 is "background", unused.
DEFAULT_LABEL_OFFSET = 1
# Written while a shard is incomplete; never matched as a shard.
TEMP_MARKER = files.TEMP_MARKER

# The feature keys of a layout's records; None: the records do not have it.
Schema = collections.namedtuple('Schema', [
    'image', 'label', 'synset', 'text', 'filename', 'label_offset'])
IMAGENET_SCHEMA = Schema('image/encoded', 'image/class/label',
                         'image/class/synset', 'image/class/text',
                         'image/filename', DEFAULT_LABEL_OFFSET)
TFDS_SCHEMA = Schema('image', 'label', None, None, 'file_name', 0)
# TFDS keeps a ClassLabel feature's names beside the records.
TFDS_LABELS_FILE = 'label.labels.txt'

# kind: 'flat', 'imagenet_to_gcs' or 'tfds'; root: the folder of the set's
# metadata files; train, validation: sorted shard paths; validation_split:
# the split read for validation ('validation', or TFDS's 'test').
Layout = collections.namedtuple('Layout', [
    'kind', 'root', 'train', 'validation', 'schema', 'validation_split'])

# shard_records: {shard path: records it holds} where that is known (the set's
# metadata, or the start-up count); a damaged shard's lost records are counted
# from it.
TFRecordSet = collections.namedtuple(
    'TFRecordSet', ['class_names', 'label_offset', 'train', 'validation',
                    'num_train', 'num_validation', 'layout', 'schema',
                    'shard_records'])

TFRecordError = errors.TFRecordError  # the one-line error of this module

# Shards of a layout looked at when deciding whether records are ImageNet's.
_SAMPLED_SHARDS = 32
_TFDS_VERSION = re.compile(r'^\d+\.\d+\.\d+$')
_SYNSET_IN_FILE_NAME = re.compile(r'^(n\d{8})_')
_SHARD_NUMBER = re.compile(r'-(\d+)-of-(\d+)$')


def features(schema=IMAGENET_SCHEMA):
  """The tf.io.parse_single_example spec of a schema: image and label."""
  return {
      schema.image: tf.io.FixedLenFeature([], tf.string, default_value=''),
      schema.label: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
  }


FEATURES = features()


# Finding the shards.

def _complete_files(pattern):
  found = tf.io.gfile.glob(pattern)
  return sorted(p for p in found
                if TEMP_MARKER not in os.path.basename(p) and
                not tf.io.gfile.isdir(p))


def shards(data_dir, split):
  """Sorted paths of the complete `split` shards in `data_dir` (`split`-*)."""
  if not tf.io.gfile.isdir(data_dir):
    return []
  return _complete_files(os.path.join(data_dir, '%s-*' % split))


def _version_key(name):
  return tuple(int(part) for part in name.split('.'))


def _tfds_layout(data_dir):
  """The TFDS layout in `data_dir` or its newest version folder, or None."""
  folders = [data_dir]
  versions = [n for n in tf.io.gfile.listdir(data_dir)
              if _TFDS_VERSION.match(n.rstrip('/'))]
  folders += [os.path.join(data_dir, n.rstrip('/')) for n in
              sorted(versions, key=lambda n: _version_key(n.rstrip('/')),
                     reverse=True)]
  for folder in folders:
    train = _complete_files(os.path.join(folder, '*-train.tfrecord*'))
    if not train:
      continue
    split = 'validation'
    validation = _complete_files(os.path.join(folder, '*-validation.tfrecord*'))
    if not validation:
      split = 'test'
      validation = _complete_files(os.path.join(folder, '*-test.tfrecord*'))
    return Layout('tfds', folder, train, validation, TFDS_SCHEMA, split)
  return None


def find_layout(data_dir):
  """The TFRecord layout of `data_dir` (module docstring), or None.

  Args:
    data_dir: a local or gs:// folder.

  Returns:
    A Layout, or None if `data_dir` holds no training shards of any layout.
  """
  if not data_dir or not tf.io.gfile.isdir(data_dir):
    return None
  train = shards(data_dir, 'train')
  if train:
    validation = shards(data_dir, 'validation')
    folder = os.path.normpath(data_dir)
    parent = os.path.dirname(folder)
    sibling = shards(os.path.join(parent, 'validation'), 'validation')
    if not validation and os.path.basename(folder) == 'train' and sibling:
      logging.info('%s is the train/ folder of imagenet_to_gcs.py\'s layout: '
                   'reading validation shards from %s too.', data_dir,
                   os.path.join(parent, 'validation'))
      return Layout('imagenet_to_gcs', parent, train, sibling,
                    IMAGENET_SCHEMA, 'validation')
    return Layout('flat', data_dir, train, validation, IMAGENET_SCHEMA,
                  'validation')
  train = shards(os.path.join(data_dir, 'train'), 'train')
  if train:
    return Layout('imagenet_to_gcs', data_dir, train,
                  shards(os.path.join(data_dir, 'validation'), 'validation'),
                  IMAGENET_SCHEMA, 'validation')
  return _tfds_layout(data_dir)


def is_tfrecord_dir(data_dir):
  """True if `data_dir` holds training shards of a layout find_layout reads."""
  return find_layout(data_dir) is not None


# TFRecord framing: uint64 length, uint32 masked CRC-32C of the length, the
# data, uint32 masked CRC-32C of the data.

_HEADER_BYTES = 12
_FOOTER_BYTES = 4


def _crc32c_table():
  table = []
  for byte in range(256):
    crc = byte
    for _ in range(8):
      crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    table.append(crc)
  return table


_CRC32C_TABLE = _crc32c_table()


def masked_crc32c(data):
  """TFRecord's checksum of `data` (bytes): CRC-32C, rotated and offset.

  Pure Python, for the 8-byte length headers; the native reader checks the
  data.
  """
  crc = 0xffffffff
  for byte in bytearray(data):
    crc = _CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >> 8)
  crc ^= 0xffffffff
  return (((crc >> 15) | (crc << 17)) + 0xa282ead8) & 0xffffffff


# What went wrong at a record (Damage.kind).
CORRUPT_RECORD = 'corrupt record'  # its data or data checksum: skipped
CORRUPT_HEADER = 'corrupt header'  # its length: where the next starts is lost
TRUNCATED = 'truncated'            # the file ends inside the record
UNREADABLE = 'unreadable'          # the file cannot be opened or read

# path, index: the shard and the index of the record at fault; offset: its
# byte; size: the file's length; next_offset: where reading goes on (a
# corrupt record only, else None); detail: the error of an unreadable file.
Damage = collections.namedtuple('Damage', [
    'path', 'index', 'offset', 'kind', 'size', 'next_offset', 'detail'])


def describe_damage(damage):
  """One line naming the shard, the record and what became of the rest."""
  d = damage
  if d.kind == CORRUPT_RECORD:
    return ('%s: record %d (byte %d) is corrupt (its checksum does not '
            'match); it is skipped and the records after it are read'
            % (d.path, d.index, d.offset))
  if d.kind == CORRUPT_HEADER:
    return ('%s: the length header of record %d (byte %d) is corrupt; the '
            '%d records before it are read, the rest of the file (%d bytes) '
            'cannot be' % (d.path, d.index, d.offset, d.index,
                           d.size - d.offset))
  if d.kind == TRUNCATED:
    return ('%s is truncated: it ends inside record %d (byte %d of %d); the '
            '%d records before it are read' % (d.path, d.index, d.offset,
                                               d.size, d.index))
  return '%s cannot be read from record %d on: %s' % (d.path, d.index,
                                                      d.detail)


def _inspect(path, index, offset, size):
  """The Damage at `offset`, where the native reader stopped early."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    f.seek(offset)
    header = f.read(_HEADER_BYTES)
  if len(header) < _HEADER_BYTES:
    return Damage(path, index, offset, TRUNCATED, size, None, None)
  if masked_crc32c(header[:8]) != struct.unpack('<I', header[8:])[0]:
    return Damage(path, index, offset, CORRUPT_HEADER, size, None, None)
  end = offset + _HEADER_BYTES + struct.unpack('<Q', header[:8])[0] + (
      _FOOTER_BYTES)
  if end > size:
    return Damage(path, index, offset, TRUNCATED, size, None, None)
  return Damage(path, index, offset, CORRUPT_RECORD, size, end, None)


def _open_reader(path, offset):
  """TensorFlow's native record reader (what tf_record_iterator uses), which
  checks every checksum in C++, started at byte `offset`."""
  with tf_errors.raise_exception_on_not_ok_status() as status:
    reader = pywrap_tensorflow.PyRecordReader_New(
        tf.compat.as_bytes(path), offset, b'', status)
  if reader is None:
    raise tf.errors.NotFoundError(None, None, 'cannot open %s' % path)
  return reader


def read_records(path, offset=0, index=0):
  """Reads a shard from byte `offset` (record `index`) on, surviving damage.

  Yields:
    (index, record bytes, None) for each record that reads, and
    (index, None, Damage) where one does not: after a corrupt record reading
    goes on at the next one (its intact length header says where); a
    truncated file, a corrupt length header or a read error end the shard.
  """
  try:
    size = tf.io.gfile.stat(path).length
  except tf.errors.OpError as e:
    yield index, None, Damage(path, index, offset, UNREADABLE, 0, None,
                              e.message)
    return
  while offset < size:
    try:
      reader = _open_reader(path, offset)
    except tf.errors.OpError as e:
      yield index, None, Damage(path, index, offset, UNREADABLE, size, None,
                                e.message)
      return
    try:
      while True:
        try:
          reader.GetNext()
        except (tf.errors.OutOfRangeError, tf.errors.DataLossError):
          offset = reader.offset()  # the start of the record that failed
          break
        yield index, reader.record(), None
        index += 1
    except tf.errors.OpError as e:
      yield index, None, Damage(path, index, reader.offset(), UNREADABLE,
                                size, None, e.message)
      return
    finally:
      reader.Close()
    if offset >= size:
      return
    damage = _inspect(path, index, offset, size)
    yield index, None, damage
    if damage.kind != CORRUPT_RECORD:
      return
    offset, index = damage.next_offset, index + 1


def scan(path):
  """Counts a shard's records from their length headers, reading no data.

  Each header's checksum is checked; the data's are not (a corrupt record is
  found when it is read).

  Returns:
    (number of records before any damage, Damage or None).
  """
  try:
    size = tf.io.gfile.stat(path).length
    f = tf.io.gfile.GFile(path, 'rb')
  except tf.errors.OpError as e:
    return 0, Damage(path, 0, 0, UNREADABLE, 0, None, e.message)
  count, position = 0, 0
  with f:
    while position < size:
      f.seek(position)
      header = f.read(_HEADER_BYTES)
      if len(header) < _HEADER_BYTES:
        return count, Damage(path, count, position, TRUNCATED, size, None,
                             None)
      if masked_crc32c(header[:8]) != struct.unpack('<I', header[8:])[0]:
        return count, Damage(path, count, position, CORRUPT_HEADER, size,
                             None, None)
      end = position + _HEADER_BYTES + struct.unpack('<Q', header[:8])[0] + (
          _FOOTER_BYTES)
      if end > size:
        return count, Damage(path, count, position, TRUNCATED, size, None,
                             None)
      position = end
      count += 1
  return count, None


def scan_shard(path):
  """(records before any damage, True if the shard is damaged): see scan."""
  count, damage = scan(path)
  return count, damage is not None


def count_records(paths):
  """Total complete records of `paths`; warns about each damaged shard."""
  total = 0
  for path in paths:
    count, damage = scan(path)
    _warn_once(damage, set())
    total += count
  return total


def _warn_once(damage, named):
  """Logs `damage` unless its (path, index) is in the set `named`."""
  if damage is not None and (damage.path, damage.index) not in named:
    named.add((damage.path, damage.index))
    logging.warning('%s.', describe_damage(damage))


def _scan_counts(paths, named):
  """{path: records known to be there}; each damaged shard named once.

  A shard that breaks (truncated, a corrupt length header, unreadable) counts
  its complete records and the one at the break, which reading will count as
  lost: what was read and what was lost then add up to the count.
  """
  counts = {}
  for path in paths:
    count, damage = scan(path)
    _warn_once(damage, named)
    counts[path] = count + (damage is not None)
  return counts


# The set's metadata.

def read_info(data_dir):
  """The set's dataset_info.json as a dict (ours or TFDS's), or None."""
  try:
    info = files.read_json(os.path.join(data_dir, INFO_FILE))
  except ValueError as e:
    raise TFRecordError(str(e))
  return info if isinstance(info, dict) else None


def write_info(out_dir, info):
  """Writes dataset_info.json atomically."""
  files.write_json(os.path.join(out_dir, INFO_FILE), info)


def _read_names(path, what):
  try:
    with tf.io.gfile.GFile(path) as f:
      names = [line.strip() for line in f if line.strip()]
  except tf.errors.NotFoundError:
    raise TFRecordError('%s %s: no such file' % (what, path))
  except tf.errors.OpError as e:
    raise TFRecordError('%s %s cannot be read: %s' % (what, path, e.message))
  if not names:
    raise TFRecordError('%s %s is empty' % (what, path))
  return tuple(names)


def _read_labels_file(path):
  return _read_names(path, '--labels_file')


def _tfds_names(layout, info):
  """Class names of a TFDS set: label.labels.txt, else '0'..'N-1', else None."""
  path = os.path.join(layout.root, TFDS_LABELS_FILE)
  if tf.io.gfile.exists(path):
    return _read_names(path, 'TFDS class names')
  num_classes = _find_key(info.get('features'), 'numClasses')
  if num_classes:
    return tuple(str(i) for i in range(int(num_classes)))
  return None


def _find_key(obj, key):
  """The first value of `key` in nested dicts and lists, or None."""
  if isinstance(obj, dict):
    if key in obj:
      return obj[key]
    obj = list(obj.values())
  if isinstance(obj, list):
    for value in obj:
      found = _find_key(value, key)
      if found is not None:
        return found
  return None


def _known_counts(layout, info):
  """{shard path: records} as the set's metadata gives them (ours, TFDS's)."""
  counts = {}
  by_name = info.get('shard_records') or {}
  for path in layout.train + layout.validation:
    if os.path.basename(path) in by_name:
      counts[path] = int(by_name[os.path.basename(path)])
  for split in info.get('splits') or []:  # TFDS: one length per shard
    if not isinstance(split, dict) or not split.get('shardLengths'):
      continue
    lengths = split['shardLengths']
    paths = {'train': layout.train,
             layout.validation_split: layout.validation}.get(split.get('name'),
                                                            [])
    for path in paths:
      match = _SHARD_NUMBER.search(path)
      if match and int(match.group(2)) == len(lengths):
        counts[path] = int(lengths[int(match.group(1))])
  return counts


# Class names from the records.

def _example(record):
  try:
    return tf.train.Example.FromString(record).features.feature
  except protobuf_message.DecodeError:
    return None


def _label_and_synset(feature, schema):
  """(stored label or None, synset or other name or None) of a record."""
  if feature is None or schema.label not in feature:
    return None, None
  values = feature[schema.label].int64_list.value
  label = values[0] if values else None
  for key in (schema.synset, schema.text):
    if key and key in feature and feature[key].bytes_list.value:
      return label, feature[key].bytes_list.value[0].decode('utf-8', 'replace')
  if schema.filename and schema.filename in feature:
    value = feature[schema.filename].bytes_list.value
    match = _SYNSET_IN_FILE_NAME.match(
        value[0].decode('utf-8', 'replace') if value else '')
    if match:
      return label, match.group(1)
  return label, None


def _first_records(paths, schema):
  """(label, synset) of the first readable record of some of `paths`."""
  step = max(1, len(paths) // _SAMPLED_SHARDS)
  found = []
  for path in paths[::step]:
    for _, record, _ in read_records(path):
      if record is not None:
        found.append(_label_and_synset(_example(record), schema))
        break
  return found


def _is_imagenet(pairs, label_offset):
  """True if every (label, synset) is ImageNet's synset at its label."""
  return bool(pairs) and all(
      label is not None and synset is not None and
      imagenet.class_id(synset) == label - label_offset
      for label, synset in pairs)


def _unique(names):
  """`names`, a repeated one made unique with its position (N)."""
  return tuple(n if names.count(n) == 1 else '%s (%d)' % (n, i)
               for i, n in enumerate(names))


def _names_from_records(layout, label_offset, named):
  """Class names (in class id order) from the records of both splits.

  ImageNet's synsets at their ILSVRC-2012 labels, judged from the first
  record of a sample of shards, give ImageNet's 1000 classes at once; any
  other set is read whole: the labels of training and validation records give
  the number of classes, their synsets (or texts) the names.
  """
  schema, every = layout.schema, layout.train + layout.validation
  if _is_imagenet(_first_records(layout.train, schema) +
                  _first_records(layout.validation, schema), label_offset):
    logging.info('%s: ImageNet\'s synsets at their ILSVRC-2012 labels: %d '
                 'classes with ImageNet\'s names.', layout.root,
                 imagenet.NUM_CLASSES)
    return imagenet.class_names()
  logging.info('Reading the labels of the %d shards of %s for the class '
               'names (pass --labels_file, one name per line in label order, '
               'to skip this).', len(every), layout.root)
  synsets, seen = {}, {'train': set(), 'validation': set()}
  for split, paths in (('train', layout.train),
                       ('validation', layout.validation)):
    for path in paths:
      for _, record, damage in read_records(path):
        if damage is not None:
          _warn_once(damage, named)
          continue
        label, synset = _label_and_synset(_example(record), schema)
        if label is None:
          continue
        seen[split].add(label)
        if synset is not None:
          synsets.setdefault(label, synset)
  labels = seen['train'] | seen['validation']
  if not labels:
    return ()
  if min(labels) < label_offset:
    raise TFRecordError('%s has label %d, below --label_offset %d'
                        % (layout.root, min(labels), label_offset))
  if len(synsets) == len(labels) and _is_imagenet(synsets.items(),
                                                  label_offset):
    return imagenet.class_names()
  names = _unique([synsets.get(label, str(label))
                   for label in range(label_offset, max(labels) + 1)])
  missing = sorted(seen['train'] - seen['validation'])
  if layout.validation and missing:
    logging.warning('%d class(es) of %d have no validation record: trained '
                    'all the same, never evaluated: %s%s',
                    len(missing), len(names), ', '.join(
                        '%r (label %d)' % (names[m - label_offset], m)
                        for m in missing[:10]),
                    ', ...' if len(missing) > 10 else '')
  return names


def _imagenet_names(names, source):
  """ImageNet's human-readable names for a list of its 1000 synsets."""
  if tuple(names) == imagenet.synsets():
    logging.info('%s lists ImageNet\'s 1000 synsets: using their names.',
                 source)
    return imagenet.class_names()
  return tuple(names)


def describe(data_dir, label_offset=None, labels_file=None):
  """Describes the TFRecord set in `data_dir`, never raising for damage.

  Args:
    data_dir: a folder in one of the layouts of the module docstring.
    label_offset: stored label of class id 0; None takes dataset_info.json's,
      else the layout's (1, or 0 for TFDS).
    labels_file: optional text file of class names, one per line, in label
      order; it wins over every other source of names.

  Returns:
    A TFRecordSet. Shards whose count the metadata does not give are counted
    from their headers; a damaged one is named (file, record index) and
    counted up to the break.

  Raises:
    TFRecordError: no shards, no names can be found, or a label is below the
      offset.
  """
  layout = find_layout(data_dir)
  if layout is None:
    raise TFRecordError('%s holds no TFRecord shards (train-*, train/train-* '
                        'or *-train.tfrecord-*)' % data_dir)
  info = read_info(layout.root) or {}
  named = set()  # damage already named: each break once at start-up
  if label_offset is None:
    label_offset = info.get('label_offset', layout.schema.label_offset)
  tfds_names = None
  if not labels_file and not info.get('class_names') and (
      layout.kind == 'tfds'):
    tfds_names = _tfds_names(layout, info)
  if labels_file:
    class_names = _read_labels_file(labels_file)
  elif info.get('class_names'):
    class_names = _imagenet_names(info['class_names'],
                                  os.path.join(layout.root, INFO_FILE))
  elif tfds_names:
    class_names = _imagenet_names(tfds_names, layout.root)
  else:
    class_names = _names_from_records(layout, label_offset, named)
  if not class_names:
    raise TFRecordError('%s: no class names found in its records; pass '
                        '--labels_file' % data_dir)
  shard_records = _known_counts(layout, info)
  totals = info.get('num_records') or {}
  num = {}
  for split, paths in (('train', layout.train),
                       ('validation', layout.validation)):
    if totals.get(split) is not None and not shard_records:
      num[split] = totals[split]  # an older converter's: totals only
      continue
    shard_records.update(_scan_counts(
        [p for p in paths if p not in shard_records], named))
    num[split] = sum(shard_records[p] for p in paths)
  return TFRecordSet(tuple(class_names), label_offset, layout.train,
                     layout.validation, num['train'], num['validation'],
                     layout.kind, layout.schema, shard_records)
