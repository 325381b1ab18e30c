"""Small file jobs, each done in one place: JSON written atomically and read
back, and the global step of a folder's latest checkpoint.

Paths go through tf.io.gfile, so gs:// and hdfs:// folders work as local ones
do. A JSON file is written to a temporary name beside it, unique to the
writer, then renamed: a reader never sees half a file, and two processes
writing the same file do not write into each other's temporary file.
"""
import json
import math
import os
import uuid

from absl import logging
import tensorflow as tf

# In the name of a file that is still being written; never a finished file's.
TEMP_MARKER = '.tmp'


def write_json(path, obj):
  """Writes `obj` as JSON to `path` atomically, making its folder if needed.

  Args:
    path: the file to write (local, gs://, ...); it is replaced if it exists.
    obj: a JSON-serialisable object.

  Raises:
    TypeError: `obj` is not JSON-serialisable (nothing is written).
  """
  text = json.dumps(obj, indent=1, sort_keys=True)
  folder = os.path.dirname(path)
  if folder:
    tf.io.gfile.makedirs(folder)
  temp = '%s%s-%d-%s' % (path, TEMP_MARKER, os.getpid(), uuid.uuid4().hex)
  try:
    with tf.io.gfile.GFile(temp, 'w') as f:
      f.write(text)
    tf.io.gfile.rename(temp, path, overwrite=True)
  except (tf.errors.OpError, IOError, OSError):
    if tf.io.gfile.exists(temp):
      tf.io.gfile.remove(temp)
    raise


def read_json(path):
  """The object in the JSON file `path`, or None if there is no such file.

  Raises:
    ValueError: the file exists but is not valid JSON; the message names it.
  """
  try:
    with tf.io.gfile.GFile(path) as f:
      text = f.read()
  except tf.errors.NotFoundError:
    return None
  try:
    return json.loads(text)
  except ValueError as e:
    raise ValueError('%s: not valid JSON (%s)' % (path, e))


def checkpoint_step(model_dir):
  """The global step of the latest checkpoint in `model_dir`, 0 if none."""
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if checkpoint is None:
    return 0
  return int(tf.train.load_variable(checkpoint, 'global_step'))


def _finite_or_none(obj, found):
  if isinstance(obj, float) and not math.isfinite(obj):
    found.append(obj)
    return None
  if isinstance(obj, dict):
    return {k: _finite_or_none(v, found) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_finite_or_none(v, found) for v in obj]
  return obj


def json_line(obj):
  """`obj` as one line of strict JSON: NaN and inf become null, with a warning.

  Python's json writes NaN and Infinity, which are not JSON; a reader of our
  output must never get them, nor a number that is not one.
  """
  found = []
  clean = _finite_or_none(obj, found)
  if found:
    logging.warning('%d value(s) were not finite (%s) and are written as '
                    'null: the model in use may have diverged.', len(found),
                    ', '.join(sorted(set(str(v) for v in found))))
  return json.dumps(clean, sort_keys=True, allow_nan=False)
