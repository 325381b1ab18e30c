r"""Converts an image tree into TFRecord shards in build_imagenet_data's format.

  python -m alexnet_estimator.build_tfrecords --input_dir TREE --output_dir OUT
  alexnet-build-tfrecords --input_dir TREE --output_dir OUT --train_shards 64
  alexnet-build-tfrecords --input_dir ILSVRC2012 --output_dir OUT \
      --validation_labels imagenet_2012_validation_synset_labels.txt

TREE has the layouts --data_dir takes (train/ + validation/, or class folders
split by --validation_percent), or ImageNet's raw one: train/<synset>/*.JPEG
and a flat validation/ of images (ILSVRC2012_val_00000001.JPEG, ...) whose
synsets --validation_labels lists, one a line, in sorted file-name order. OUT
gets train-NNNNN-of-NNNNN and validation-NNNNN-of-NNNNN shards with the
feature keys of tensorflow/models' build_imagenet_data.py (labels 1..N, 0
unused; image/class/text the human-readable name where it is known: ImageNet's
for its synsets, or --metadata_file's), dataset_info.json (class names, label
offset, records per split and per shard), and skipped.txt listing the files
that are not readable images.

Every image is stored as an RGB JPEG: RGB JPEGs as they are, anything else
(PNG, GIF, BMP, CMYK or grayscale JPEG) decoded and re-encoded. Shards are
written by parallel processes to temporary names and renamed when complete, so
a rerun after a crash writes only the missing shards. A lock in OUT refuses a
second converter writing there at the same time.
"""
import contextlib
import fcntl
import glob
import io
import multiprocessing
import os
import random
import sys
import time

from absl import flags
from PIL import Image
import tensorflow as tf

from alexnet_estimator import cli
from alexnet_estimator import errors
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import files
from alexnet_estimator import hooks
from alexnet_estimator import image_folder
from alexnet_estimator import imagenet
from alexnet_estimator import tfrecords

FLAGS = flags.FLAGS


JPEG_QUALITY = 95
# In OUT while a converter writes there (hidden: never taken for a shard).
LOCK_FILE = '.build_tfrecords.lock'

_counter = None  # images done, shared by the worker processes


def _init_worker(counter):
  global _counter
  _counter = counter


def as_rgb_jpeg(data):
  """Returns (RGB JPEG bytes, height, width) for encoded image `data`.

  Raises:
    IOError, OSError, ValueError: `data` is not a complete image.
  """
  image = Image.open(io.BytesIO(data))
  image.load()  # decodes everything: a truncated file raises here
  if image.format == 'JPEG' and image.mode == 'RGB':
    return data, image.height, image.width
  if image.mode in ('RGBA', 'LA') or 'transparency' in image.info:
    background = Image.new('RGB', image.size, (255, 255, 255))
    background.paste(image.convert('RGBA'), mask=image.convert('RGBA'))
    image = background
  buffer = io.BytesIO()
  image.convert('RGB').save(buffer, 'JPEG', quality=JPEG_QUALITY)
  return buffer.getvalue(), image.height, image.width


def _bytes(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def make_example(jpeg, height, width, label, synset, filename, text=None):
  """A tf.train.Example with build_imagenet_data.py's keys.

  `text`: the class's human-readable name (image/class/text); default the
  synset again, as when no name is known.
  """
  return tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': _bytes(jpeg),
      'image/format': _bytes(b'JPEG'),
      'image/colorspace': _bytes(b'RGB'),
      'image/channels': _int64(3),
      'image/height': _int64(height),
      'image/width': _int64(width),
      'image/class/label': _int64(label),
      'image/class/synset': _bytes(synset.encode('utf-8')),
      'image/class/text': _bytes((text or synset).encode('utf-8')),
      'image/filename': _bytes(os.path.basename(filename).encode('utf-8')),
  }))


def _sidecar(shard_path):
  """Hidden file beside a shard: its record count and skipped files."""
  folder, name = os.path.split(shard_path)
  return os.path.join(folder, '.%s.json' % name)


def write_shard(job):
  """Writes one shard unless it is complete; returns its sidecar dict."""
  path, items, class_names, texts = job
  done = files.read_json(_sidecar(path)) if os.path.exists(path) else None
  if done is not None:
    return done
  temp = '%s%s-%d' % (path, tfrecords.TEMP_MARKER, os.getpid())
  count, skipped = 0, []
  with tf.io.TFRecordWriter(temp) as writer:
    for filename, label in items:
      try:
        with open(filename, 'rb') as f:
          jpeg, height, width = as_rgb_jpeg(f.read())
      except (IOError, OSError, ValueError, SyntaxError) as e:
        skipped.append([filename, str(e) or type(e).__name__])
      else:
        writer.write(make_example(
            jpeg, height, width, label + tfrecords.DEFAULT_LABEL_OFFSET,
            class_names[label], filename, texts[label]).SerializeToString())
        count += 1
      if _counter is not None:
        with _counter.get_lock():
          _counter.value += 1
  result = {'shard': os.path.basename(path), 'records': count,
            'skipped': skipped}
  # Sidecar first, shard last: a final shard name always means complete.
  files.write_json(_sidecar(path), result)
  os.rename(temp, path)
  return result


def plan(data, output_dir, num_shards, seed, texts=None):
  """Shard jobs (path, [(file, label)], class_names, texts) for each split.

  `texts`: each class's image/class/text (default: its name).
  """
  texts = list(texts or data.class_names)
  jobs = []
  for split, part in (('train', data.train), ('validation', data.validation)):
    items = list(zip(part.files, part.labels))
    random.Random(seed).shuffle(items)  # mix classes within each shard
    shards = num_shards[split]
    for index in range(shards):
      name = '%s-%05d-of-%05d' % (split, index, shards)
      jobs.append((os.path.join(output_dir, name), items[index::shards],
                   data.class_names, texts))
  return jobs


def _progress(done, total, start, out):
  elapsed = max(time.time() - start, 1e-6)
  rate = done / elapsed
  eta = (total - done) / rate if rate > 0 else 0
  width = 30
  filled = int(width * done / max(total, 1))
  out.write('\r[%s%s] %d/%d images  %.1f images/sec  ETA %s' % (
      '#' * filled, '.' * (width - filled), done, total, rate,
      hooks.format_duration(eta)))
  out.flush()


def _flat_validation_dir(input_dir):
  """input_dir's validation/ (or val/) if it holds images, not folders."""
  for name in image_folder.VALIDATION_DIRS:
    folder = os.path.join(input_dir, name)
    if not os.path.isdir(folder):
      continue
    entries = [e for e in os.listdir(folder) if not e.startswith('.')]
    if any(os.path.isfile(os.path.join(folder, e)) for e in entries) and not (
        any(os.path.isdir(os.path.join(folder, e)) for e in entries)):
      return folder
  return None


def _read_lines(path, flag):
  try:
    with open(path) as f:
      return [line.strip() for line in f if line.strip()]
  except (IOError, OSError) as e:
    raise errors.DataError('%s %s cannot be read: %s'
                           % (flag, path, e.strerror or e))


def find_tree(input_dir, validation_percent=10.0, validation_labels=None):
  """The tree to convert: image_folder's layouts, or ImageNet's raw one.

  ImageNet's raw layout: train/<synset>/ folders and a flat validation/ of
  images, labelled by `validation_labels` (one synset a line, in sorted
  file-name order, as imagenet_2012_validation_synset_labels.txt).

  Returns:
    An image_folder.ImageFolder.

  Raises:
    errors.UsageError: a flat validation/ without --validation_labels, or
      --validation_labels without one.
    errors.DataError: the tree or the labels file cannot be used.
  """
  flat = (_flat_validation_dir(input_dir) if os.path.isdir(input_dir)
          else None)
  if flat is None:
    if validation_labels:
      raise errors.UsageError(
          '--validation_labels goes with a flat validation/ folder of images '
          '(ImageNet\'s raw layout); --input_dir %s has none' % input_dir)
    return image_folder.find(input_dir, validation_percent, '--input_dir')
  if not validation_labels:
    raise errors.UsageError(
        '--input_dir %s: %s holds images, not class folders (ImageNet\'s raw '
        'validation layout); pass --validation_labels FILE, one synset per '
        'line in sorted file-name order (as imagenet_2012_validation_synset_'
        'labels.txt)' % (input_dir, flat))
  train_dir = os.path.join(input_dir, image_folder.TRAIN_DIR)
  if not os.path.isdir(train_dir):
    raise errors.DataError('--input_dir %s has a flat %s but no %s/ folder of '
                           'class folders' % (input_dir, flat,
                                              image_folder.TRAIN_DIR))
  train = image_folder.find(train_dir, 0.0, '--input_dir')
  images = sorted(os.path.join(flat, n) for n in os.listdir(flat)
                  if not n.startswith('.') and
                  os.path.isfile(os.path.join(flat, n)))
  synsets = _read_lines(validation_labels, '--validation_labels')
  if len(synsets) != len(images):
    raise errors.DataError(
        '--validation_labels %s has %d labels for the %d files of %s; it must '
        'have one per file, in sorted file-name order' % (
            validation_labels, len(synsets), len(images), flat))
  ids = {name: i for i, name in enumerate(train.class_names)}
  unknown = [(i, s) for i, s in enumerate(synsets) if s not in ids]
  if unknown:
    raise errors.DataError(
        '--validation_labels %s line %d: %r is not a class folder of %s'
        % (validation_labels, unknown[0][0] + 1, unknown[0][1], train_dir))
  return train._replace(
      validation=image_folder.Split(images, [ids[s] for s in synsets]),
      layout='imagenet raw')


def class_texts(class_names, metadata_file=None):
  """Each class's human-readable name where known, else its name.

  Args:
    class_names: the classes (folder names, e.g. synsets).
    metadata_file: optional file of `synset<TAB>name` lines, as
      tensorflow/models' imagenet_metadata.txt; it wins over the ILSVRC-2012
      names the package ships.
  """
  names = {}
  if metadata_file:
    for line in _read_lines(metadata_file, '--metadata_file'):
      key, _, text = line.partition('\t')
      if text.strip():
        names[key.strip()] = text.strip()
  return [names.get(c) or imagenet.name(c) or c for c in class_names]


@contextlib.contextmanager
def lock_output_dir(output_dir):
  """Holds OUT/LOCK_FILE while converting; refuses a second converter.

  An flock: the system releases it when the converter (and its worker
  processes) end, however they end, so a killed run leaves no stale lock.

  Raises:
    errors.TFRecordError: another converter is writing to `output_dir`.
  """
  path = os.path.join(output_dir, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (IOError, OSError):
      with open(path) as f:
        holder = f.read().strip() or 'unknown'
      raise errors.TFRecordError(
          '--output_dir %s is being written by another build_tfrecords (pid '
          '%s); wait for it to end, or write to another --output_dir'
          % (output_dir, holder))
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode('ascii'))
    yield
  finally:
    os.close(fd)


def convert(input_dir, output_dir, train_shards=8, validation_shards=2,
            num_workers=None, validation_percent=10.0, seed=0,
            out=sys.stderr, validation_labels=None, metadata_file=None):
  """Converts the tree; returns the dataset_info dict it writes.

  Args:
    input_dir, output_dir: the tree (find_tree) and the shards' folder.
    train_shards, validation_shards: shards per split.
    num_workers: processes writing shards (default: one per core).
    validation_percent: a tree without a validation folder: the share of
      each class held out.
    seed: seed of the file order within the shards.
    out: stream for the progress bar and the summary.
    validation_labels: ImageNet's raw layout: the validation synsets file.
    metadata_file: optional `synset<TAB>name` file for image/class/text.

  Raises:
    errors.Error: the tree, a flag's file or the output folder cannot be
      used; nothing is written then but the folder and its lock.
  """
  data = find_tree(input_dir, validation_percent, validation_labels)
  texts = class_texts(data.class_names, metadata_file)
  if not os.path.isdir(output_dir):
    os.makedirs(output_dir)
  with lock_output_dir(output_dir):
    return _convert(data, texts, output_dir, train_shards, validation_shards,
                    num_workers, seed, out)


def _convert(data, texts, output_dir, train_shards, validation_shards,
             num_workers, seed, out):
  """convert's work, under the output folder's lock."""
  jobs = plan(data, output_dir,
              {'train': train_shards, 'validation': validation_shards}, seed,
              texts)
  # Leftovers of a run that was killed: incomplete, never to be completed
  # (the lock rules out a converter still writing them).
  for job in jobs:
    for stale in (glob.glob(job[0] + tfrecords.TEMP_MARKER + '-*') +
                  glob.glob(_sidecar(job[0]) + files.TEMP_MARKER + '-*')):
      os.remove(stale)
  total = sum(len(job[1]) for job in jobs)
  counter = multiprocessing.Value('l', 0)
  start = time.time()
  pool = multiprocessing.Pool(num_workers or os.cpu_count() or 1,
                              initializer=_init_worker, initargs=(counter,))
  try:
    pending = pool.map_async(write_shard, jobs, chunksize=1)
    while not pending.ready():
      _progress(counter.value, total, start, out)
      pending.wait(0.5)
    results = pending.get()
  finally:
    pool.close()
    pool.join()
  _progress(total, total, start, out)
  out.write('\n')

  records = {'train': 0, 'validation': 0}
  skipped = []
  for result in results:
    records[result['shard'].split('-')[0]] += result['records']
    skipped.extend(result['skipped'])
  # Per shard too: a reader counts what a damaged shard loses from these.
  info = {'class_names': list(data.class_names),
          'label_offset': tfrecords.DEFAULT_LABEL_OFFSET,
          'num_records': records,
          'shard_records': {r['shard']: r['records'] for r in results}}
  with open(os.path.join(output_dir, 'skipped.txt'), 'w') as f:
    for filename, reason in sorted(skipped):
      f.write('%s\t%s\n' % (filename, reason))
  tfrecords.write_info(output_dir, info)
  out.write('Wrote %d training and %d validation records in %d shards to %s; '
            'skipped %d unreadable file(s), listed in %s\n' % (
                records['train'], records['validation'], len(jobs),
                output_dir, len(skipped),
                os.path.join(output_dir, 'skipped.txt')))
  return info


def main(argv):
  if len(argv) > 1:
    _fail('unexpected argument %r' % argv[1])
  for name in ('input_dir', 'output_dir'):
    if not getattr(FLAGS, name):
      _fail('--%s is required' % name)
  for name in ('train_shards', 'validation_shards', 'num_workers'):
    value = getattr(FLAGS, name)
    if value is not None and value < 1:
      _fail('--%s must be >= 1, got %d' % (name, value))
  cli.guard(PROGRAM, lambda: convert(
      FLAGS.input_dir, FLAGS.output_dir, FLAGS.train_shards,
      FLAGS.validation_shards, FLAGS.num_workers, FLAGS.validation_percent,
      FLAGS.seed, validation_labels=FLAGS.validation_labels,
      metadata_file=FLAGS.metadata_file), FLAGS.debug)


PROGRAM = 'alexnet_estimator.build_tfrecords'


def _fail(message):
  cli.fail(PROGRAM, message, 2)


def console_main():
  """Entry point of the module and of `alexnet-build-tfrecords`."""
  flags_lib.define_build_tfrecords_flags()
  cli.run(main, __name__, PROGRAM)


if __name__ == '__main__':
  console_main()
