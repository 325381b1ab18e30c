r"""Input pipeline benchmark: prints images/sec for the TFRecord pipeline.

  python scripts/benchmark_input.py [--num_images 2048] [--train_steps 8]

It writes JPEG TFRecords of ImageNet-like images (500x375, smooth content at
quality 90, about ImageNet's bytes per image) to a temporary folder, then
measures, one after the other on the same records:

  decode        tf.data map of decode + resize over records held in memory:
                the ceiling of the pipeline on this machine
  pipeline      make_tfrecord_input_fn as training uses it: shard interleave,
                shuffle, parse, decode, resize, skip-bad-records guard, batch
  train real    Estimator training steps fed by that pipeline
  train synth   the same on --use_synthetic_data's in-memory batch

and the pipeline's share of the ceiling. Run it on a quiet machine.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # before TF loads

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
import tensorflow as tf

from alexnet_estimator import benchmarking
from alexnet_estimator import build_tfrecords
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import preprocessing

NUM_CLASSES = 1000


def write_records(folder, num_images, num_shards, seed=0):
  """Writes train-* shards of JPEG records; returns (paths, mean bytes)."""
  rng = np.random.RandomState(seed)
  paths, sizes = [], []
  for shard in range(num_shards):
    path = os.path.join(folder, 'train-%05d-of-%05d' % (shard, num_shards))
    with tf.io.TFRecordWriter(path) as writer:
      for i in range(shard, num_images, num_shards):
        jpeg = benchmarking.photo_like_jpeg(rng)  # 500x375
        sizes.append(len(jpeg))
        label = 1 + i % NUM_CLASSES
        writer.write(build_tfrecords.make_example(
            jpeg, 375, 500, label, 'n%08d' % label,
            '%d.JPEG' % i).SerializeToString())
    paths.append(path)
  return paths, float(np.mean(sizes))


def _rate(dataset, batches, batch_size, warmup=3):
  """Images/sec of pulling `batches` batches after `warmup` ones."""
  next_batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
  with tf.Session() as sess:
    for _ in range(warmup):
      sess.run(next_batch)
    start = time.time()
    for _ in range(batches):
      sess.run(next_batch)
    return batches * batch_size / (time.time() - start)


def decode_ceiling(paths, params, batches):
  records = [r for p in paths for r in tf.compat.v1.io.tf_record_iterator(p)]
  encoded = [tf.train.Example.FromString(r).features.feature[
      'image/encoded'].bytes_list.value[0] for r in records]
  with tf.Graph().as_default():
    ds = tf.data.Dataset.from_tensor_slices(encoded).repeat()
    ds = ds.map(lambda b: preprocessing.preprocess_image(
        b, params['image_size']), tf.data.experimental.AUTOTUNE)
    ds = ds.batch(params['batch_size']).prefetch(1)
    return _rate(ds, batches, params['batch_size'])


def pipeline(paths, params, batches):
  with tf.Graph().as_default():
    ds = input_lib.make_tfrecord_input_fn(paths, True, params,
                                          input_lib.SkippedFiles())()
    return _rate(ds, batches, params['batch_size'])


def train_rate(input_fn, params, steps, model_dir):
  """Images/sec of Estimator training steps after a 2-step warm-up."""
  estimator = tf.estimator.Estimator(
      model_fn_lib.model_fn, model_dir=model_dir, params=params,
      config=tf.estimator.RunConfig(save_checkpoints_secs=None,
                                    save_checkpoints_steps=None,
                                    save_summary_steps=None,
                                    log_step_count_steps=None))
  timer = benchmarking.StepTimes()
  estimator.train(input_fn, steps=steps + 2, hooks=[timer])
  return benchmarking.images_per_sec(timer.times, 2, params['batch_size'])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--num_images', type=int, default=1024)
  parser.add_argument('--num_shards', type=int, default=8)
  parser.add_argument('--batch_size', type=int, default=32)
  parser.add_argument('--batches', type=int, default=60,
                      help='batches timed for decode and pipeline')
  parser.add_argument('--train_steps', type=int, default=8,
                      help='training steps timed each; 0 skips training')
  args = parser.parse_args()
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)

  folder = tempfile.mkdtemp(prefix='alexnet_benchmark_')
  try:
    paths, mean_bytes = write_records(folder, args.num_images,
                                      args.num_shards)
    params = params_lib.make_params(num_classes=NUM_CLASSES,
                                    batch_size=args.batch_size,
                                    shuffle_buffer=args.num_images)
    print('%d JPEG records (500x375, %.0f KB each on average) in %d shards; '
          'batch %d, %d cores, TensorFlow %s' % (
              args.num_images, mean_bytes / 1024, len(paths),
              args.batch_size, os.cpu_count(), tf.__version__))
    ceiling = decode_ceiling(paths, params, args.batches)
    print('decode (ceiling)   %7.1f images/sec' % ceiling)
    piped = pipeline(paths, params, args.batches)
    print('pipeline           %7.1f images/sec  (%.0f%% of the ceiling)'
          % (piped, 100.0 * piped / ceiling))
    if args.train_steps:
      real = train_rate(input_lib.make_tfrecord_input_fn(
          paths, True, params, input_lib.SkippedFiles()), params,
                        args.train_steps, os.path.join(folder, 'real'))
      print('train, real data   %7.1f images/sec' % real)
      synthetic = train_rate(input_lib.make_synthetic_input_fn(params),
                             params, args.train_steps,
                             os.path.join(folder, 'synthetic'))
      print('train, synthetic   %7.1f images/sec  (real/synthetic %.2f)'
            % (synthetic, real / synthetic))
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
