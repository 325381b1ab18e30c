"""What --mode predict prints: one JSON line per file, and the gallery PNG.

Lines come in the order of the files (folders listed sorted); a file that is
not a readable image gets a line with an "error" instead of a class.
"""
import os

from absl import logging
import tensorflow as tf

from alexnet_estimator import files as files_lib
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import errors
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import params as params_lib


def _write_gallery(path, shown, class_names):
  """A PNG of (file, probabilities) pairs with their top-5 classes."""
  from alexnet_estimator import plots  # matplotlib only when asked for
  plots.save(plots.prediction_gallery(
      [plots.load_image(f) for f, _ in shown], [p for _, p in shown],
      class_names, titles=[os.path.basename(f) for f, _ in shown]), path)
  logging.info('Wrote the predictions of %d images to %s.', len(shown), path)


def _unreadable(path, out, skipped):
  print(files_lib.json_line({'file': path, 'error': skipped.reason(path)}),
        file=out)


def predict(estimator, params, files, out, gallery=None, skipped=None):
  """Writes one JSON line per file to `out`, in the order of the files.

  Args:
    estimator: the trained model's Estimator.
    params: its params.
    files: image files (spec.resolve lists folders and drops repeats).
    out: the text stream for the lines.
    gallery: optional PNG path for the first flags.GALLERY_IMAGES images.
    skipped: optional input_fn.SkippedFiles already holding the paths that
      could not be listed (broken links, unreadable folders, ...); each gets
      its line first, with its reason, and is counted with the others.

  Raises:
    errors.DataError: no file was a readable image (each has its line).
  """
  skipped = skipped if skipped is not None else input_lib.SkippedFiles()
  for path in skipped.files:
    _unreadable(path, out, skipped)
  shown = []
  answered = 0
  if files:
    predictions = estimator.predict(input_lib.make_predict_input_fn(
        list(files), params, skipped))
    pending = iter(files)
    for prediction in predictions:
      name = tf.compat.as_str(prediction['file'])
      for path in pending:
        if path == name:
          break
        _unreadable(path, out, skipped)
      class_id = int(prediction['classes'])
      if gallery and len(shown) < flags_lib.GALLERY_IMAGES:
        shown.append((name, prediction['probabilities']))
      print(files_lib.json_line({
          'file': name,
          'class_id': class_id,
          'class_name': tf.compat.as_str(prediction['class_names']),
          'probability': float(prediction['probabilities'][class_id]),
      }), file=out)
      answered += 1
    for path in pending:
      _unreadable(path, out, skipped)
  skipped.log_total('the files to predict')
  if not answered:
    raise errors.DataError('none of the %d file(s) to predict is a readable '
                           'JPEG, PNG, GIF or BMP image'
                           % len(set(files) | set(skipped.files)))
  if gallery:
    _write_gallery(gallery, shown, params_lib.class_names(params))
