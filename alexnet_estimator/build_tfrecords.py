r"""Converts a class-per-folder image tree into ImageNet-style TFRecord shards.

  python -m alexnet_estimator.build_tfrecords --input_dir TREE --output_dir OUT
  alexnet-build-tfrecords --input_dir TREE --output_dir OUT --train_shards 64

TREE has the layouts --data_dir takes (train/ + validation/, or class folders
split by --validation_percent). OUT gets train-NNNNN-of-NNNNN and
validation-NNNNN-of-NNNNN shards with the feature keys of tensorflow/models'
build_imagenet_data.py (labels 1..N, 0 unused), dataset_info.json, and
skipped.txt listing the files that are not readable images.

Every image is stored as an RGB JPEG: RGB JPEGs as they are, anything else
(PNG, GIF, BMP, CMYK or grayscale JPEG) decoded and re-encoded. Shards are
written by parallel processes to temporary names and renamed when complete, so
a rerun after a crash writes only the missing shards.
"""
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
from alexnet_estimator import tfrecords

FLAGS = flags.FLAGS


JPEG_QUALITY = 95

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


def make_example(jpeg, height, width, label, synset, filename):
  """A tf.train.Example with build_imagenet_data.py's keys."""
  return tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': _bytes(jpeg),
      'image/format': _bytes(b'JPEG'),
      'image/colorspace': _bytes(b'RGB'),
      'image/channels': _int64(3),
      'image/height': _int64(height),
      'image/width': _int64(width),
      'image/class/label': _int64(label),
      'image/class/synset': _bytes(synset.encode('utf-8')),
      'image/class/text': _bytes(synset.encode('utf-8')),
      'image/filename': _bytes(os.path.basename(filename).encode('utf-8')),
  }))


def _sidecar(shard_path):
  """Hidden file beside a shard: its record count and skipped files."""
  folder, name = os.path.split(shard_path)
  return os.path.join(folder, '.%s.json' % name)


def write_shard(job):
  """Writes one shard unless it is complete; returns its sidecar dict."""
  path, items, class_names = job
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
            class_names[label], filename).SerializeToString())
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


def plan(data, output_dir, num_shards, seed):
  """Shard jobs (path, [(file, label)], class_names) for each split."""
  jobs = []
  for split, part in (('train', data.train), ('validation', data.validation)):
    items = list(zip(part.files, part.labels))
    random.Random(seed).shuffle(items)  # mix classes within each shard
    shards = num_shards[split]
    for index in range(shards):
      name = '%s-%05d-of-%05d' % (split, index, shards)
      jobs.append((os.path.join(output_dir, name), items[index::shards],
                   data.class_names))
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


def convert(input_dir, output_dir, train_shards=8, validation_shards=2,
            num_workers=None, validation_percent=10.0, seed=0,
            out=sys.stderr):
  """Converts the tree; returns the dataset_info dict it writes.

  Raises:
    image_folder.DataError: the tree cannot be used.
  """
  data = image_folder.find(input_dir, validation_percent, '--input_dir')
  if not os.path.isdir(output_dir):
    os.makedirs(output_dir)
  jobs = plan(data, output_dir,
              {'train': train_shards, 'validation': validation_shards}, seed)
  # Leftovers of a run that was killed: incomplete, never to be completed.
  for job in jobs:
    for stale in (glob.glob(job[0] + tfrecords.TEMP_MARKER + '-*') +
                  glob.glob(_sidecar(job[0]) + files.TEMP_MARKER + '-*')):
      os.remove(stale)
  total = sum(len(items) for _, items, _ in jobs)
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
  info = {'class_names': list(data.class_names),
          'label_offset': tfrecords.DEFAULT_LABEL_OFFSET,
          'num_records': records}
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
  try:
    convert(FLAGS.input_dir, FLAGS.output_dir, FLAGS.train_shards,
            FLAGS.validation_shards, FLAGS.num_workers,
            FLAGS.validation_percent, FLAGS.seed)
  except errors.Error as e:
    _fail(e, e.exit_code)


PROGRAM = 'alexnet_estimator.build_tfrecords'


def _fail(message, code=2):
  """One error line; exit 2 for a flag, the error's code for the data."""
  cli.fail(PROGRAM, message, code)


def console_main():
  """Entry point of the module and of `alexnet-build-tfrecords`."""
  flags_lib.define_build_tfrecords_flags()
  cli.run(main, __name__, PROGRAM)


if __name__ == '__main__':
  console_main()
