r"""Prediction benchmark: single-image calls, Predictor vs estimator.predict.

  python scripts/benchmark_predict.py --model_dir RUN [--image cat.jpg]
  python scripts/benchmark_predict.py --tiny    # a throwaway model, made here

It exports the model in --model_dir (or, with --tiny, one it trains for a
step on synthetic data in a temporary folder) to a temporary SavedModel, then
makes --calls single-image calls of each kind on the same image, as a notebook
user does:

  Predictor           alexnet_estimator.Predictor(export).predict(image),
                      the SavedModel loaded once before the first call
  estimator.predict   a fresh est.predict(predict_input_fn([image], params=
                      est.params)) generator per call, read to its end:
                      the graph is built and the checkpoint restored each time

and prints the mean and median milliseconds per call of each (and the first
call's, which pays one-off warm-up costs), the speed-up of the mean and of the
median, and whether both gave the same class and probabilities within 1e-5
(exit code 1 if not; 2 if the run could not start). The Predictor's load is
printed on its own line, not counted in its calls. Without --image, it
predicts a generated 320x240 JPEG. Nothing is downloaded. Run it on a quiet
machine: the figures are wall-clock times.
"""
import argparse
import io
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # before TF loads

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import benchmarking
from alexnet_estimator import errors
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import train

# Largest difference of probabilities taken as agreement.
TOLERANCE = 1e-5


def _write_photo_like(path, width=320, height=240, seed=0):
  """Writes a smooth random RGB JPEG, as benchmark_input.py makes them."""
  with open(path, 'wb') as f:
    f.write(benchmarking.photo_like_jpeg(np.random.RandomState(seed), width,
                                         height, grid=(6, 8)))
  return path


def train_tiny_model(model_dir, image_size, num_classes):
  """Trains a throwaway model for one step on synthetic data."""
  train.run(train.Options(
      'train', model_dir, use_synthetic_data=True, max_train_steps=1,
      num_classes=num_classes,
      overrides={'image_size': image_size, 'batch_size': 2}),
            out=io.StringIO())


def time_predictor(export_dir, image, calls):
  """(load seconds, [seconds per call], [probabilities per call])."""
  start = time.perf_counter()
  predictor = alexnet_estimator.Predictor(export_dir)
  load = time.perf_counter() - start
  times, answers = [], []
  with predictor:
    for _ in range(calls):
      start = time.perf_counter()
      out = predictor.predict(image)
      times.append(time.perf_counter() - start)
      answers.append(out['probabilities'][0])
  return load, times, answers


def time_estimator(model_dir, image, calls):
  """([seconds per call], [probabilities per call]) of estimator.predict."""
  estimator = alexnet_estimator.build_estimator(model_dir)
  times, answers = [], []
  for _ in range(calls):
    start = time.perf_counter()
    predictions = list(estimator.predict(alexnet_estimator.predict_input_fn(
        [image], params=estimator.params)))
    times.append(time.perf_counter() - start)
    if len(predictions) != 1:
      raise ValueError('estimator.predict gave %d predictions for %s'
                       % (len(predictions), image))
    answers.append(predictions[0]['probabilities'])
  return times, answers


def agreement(served, estimated):
  """(same class in every call, largest probability difference)."""
  served, estimated = np.array(served), np.array(estimated)
  same_class = bool(np.all(np.argmax(served, axis=1) ==
                           np.argmax(estimated, axis=1)))
  return same_class, float(np.max(np.abs(served - estimated)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  model = parser.add_mutually_exclusive_group(required=True)
  model.add_argument('--model_dir', help='a trained run folder')
  model.add_argument('--tiny', action='store_true',
                     help='train a throwaway model (one step, synthetic '
                     'data) in a temporary folder instead')
  parser.add_argument('--image', help='image file to predict (default: a '
                      'generated 320x240 JPEG)')
  parser.add_argument('--calls', type=int, default=50,
                      help='single-image calls timed for each (default 50)')
  parser.add_argument('--image_size', type=int,
                      help='with --tiny: the model\'s input side (default 67)')
  parser.add_argument('--num_classes', type=int,
                      help='with --tiny: its classes (default 10)')
  args = parser.parse_args()
  if args.calls < 1:
    parser.error('--calls must be at least 1, got %d' % args.calls)
  if not args.tiny and (args.image_size, args.num_classes) != (None, None):
    parser.error('--image_size and --num_classes go with --tiny')
  if args.image and not os.path.isfile(args.image):
    parser.error('--image %s: no such file' % args.image)
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)

  folder = tempfile.mkdtemp(prefix='alexnet_benchmark_predict_')
  try:
    if args.tiny:
      model_dir = os.path.join(folder, 'model')
      train_tiny_model(
          model_dir, 67 if args.image_size is None else args.image_size,
          10 if args.num_classes is None else args.num_classes)
      what = 'a tiny throwaway model (one step on synthetic data)'
    else:
      model_dir = args.model_dir
      what = model_dir
    if args.image:
      image, shown = args.image, args.image
    else:
      image = _write_photo_like(os.path.join(folder, 'image.jpg'))
      shown = 'a generated 320x240 JPEG'
    export_dir = train.run(train.Options(
        'export', model_dir, export_dir=os.path.join(folder, 'export')),
                           out=io.StringIO()).export_path
    info = model_dir_lib.load_model_info(model_dir)
    print('Model: %s, %dx%d, %d classes. Image: %s.' % (
        what, info['image_size'], info['image_size'],
        len(info['class_names']), shown))
    print('%d single-image calls each; %d cores, TensorFlow %s.' % (
        args.calls, os.cpu_count(), tf.__version__))

    load, fast, served = time_predictor(export_dir, image, args.calls)
    slow, estimated = time_estimator(model_dir, image, args.calls)
    print('Predictor load (once)   %9.1f ms' % (1000 * load))
    for label, times in (('Predictor.predict', fast),
                         ('estimator.predict', slow)):
      print('%-22s  mean %9.1f ms  median %9.1f ms  first %9.1f ms' % (
          label, 1000 * np.mean(times), 1000 * np.median(times),
          1000 * times[0]))
    print('speed-up                mean %8.1fx     median %8.1fx' % (
        np.mean(slow) / np.mean(fast), np.median(slow) / np.median(fast)))

    same_class, difference = agreement(served, estimated)
    if same_class and difference <= TOLERANCE:
      print('agreement: same class in all %d calls, probabilities within %g '
            '(largest difference %.2g)' % (args.calls, TOLERANCE, difference))
      return 0
    print('DISAGREEMENT: %s, largest probability difference %.2g (tolerance '
          '%g)' % ('same class' if same_class else 'classes differ',
                   difference, TOLERANCE))
    return 1
  except (errors.Error, params_lib.ParamError, IOError, ValueError) as e:
    print('benchmark_predict.py: error: %s' % e, file=sys.stderr)
    return 2
  finally:
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
  sys.exit(main())
