"""Builds the Estimator and keeps a model_dir's model description.

A model_dir holds, beside the checkpoints, `alexnet_model.json`: the class
names and the image size the model was trained with. It is written at the
first training run, before any checkpoint, and read by every later run, so
evaluation, prediction and export need no --data_dir, and a run whose data or
settings do not fit the checkpoints stops before it touches them.
"""
import json
import os

import tensorflow as tf

from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib

MODEL_INFO_FILE = 'alexnet_model.json'


class ModelDirError(ValueError):
  """model_dir does not hold a model, or one that fits this run."""


def model_info_path(model_dir):
  return os.path.join(model_dir, MODEL_INFO_FILE)


def load_model_info(model_dir):
  """Returns {'class_names': [...], 'image_size': int}, or None if absent."""
  path = model_info_path(model_dir)
  if not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path) as f:
      info = json.load(f)
    return {'class_names': [str(n) for n in info['class_names']],
            'image_size': int(info['image_size'])}
  except (ValueError, KeyError, TypeError) as e:
    raise ModelDirError('%s is not a valid model description: %s' % (path, e))


def save_model_info(model_dir, class_names, image_size):
  """Writes the model description atomically (temp file, then rename)."""
  tf.io.gfile.makedirs(model_dir)
  path = model_info_path(model_dir)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    json.dump({'class_names': list(class_names), 'image_size': image_size},
              f, indent=1)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def with_model_info(model_dir, overrides):
  """A copy of `overrides` with the model's class names and image size filled in.

  Keys already in `overrides` win; without a model description, a plain copy.
  """
  overrides = dict(overrides or {})
  info = load_model_info(model_dir)
  if info is not None:
    overrides.setdefault('class_names', info['class_names'])
    overrides.setdefault('num_classes', len(info['class_names']))
    overrides.setdefault('image_size', info['image_size'])
  return overrides


def _checkpoint_shapes(model_dir):
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if checkpoint is None:
    return None
  return dict(tf.train.list_variables(checkpoint))


def check_compatible(model_dir, params):
  """Raises ModelDirError if model_dir's model differs from `params`' model.

  Compares the stored description (class names, image size) and, when there is
  a checkpoint, the shapes of its first and last dense layers.
  """
  info = load_model_info(model_dir)
  if info is not None:
    names = list(params_lib.class_names(params))
    if info['class_names'] != names:
      extra = sorted(set(names) - set(info['class_names']))
      missing = sorted(set(info['class_names']) - set(names))
      raise ModelDirError(
          'the data has other classes than the model in %s (new: %s; '
          'missing: %s; order or count differs otherwise); use a new '
          '--model_dir' % (model_dir, extra[:5] or 'none',
                           missing[:5] or 'none'))
    if info['image_size'] != params['image_size']:
      raise ModelDirError(
          '--image_size %d differs from %d, the size the model in %s was '
          'trained at' % (params['image_size'], info['image_size'], model_dir))
  shapes = _checkpoint_shapes(model_dir)
  if shapes is None:
    return
  expected = {'logits/kernel': [4096, params['num_classes']],
              'dense1/kernel': [256 * pool3_side(params['image_size']) ** 2,
                                4096]}
  for name, shape in sorted(expected.items()):
    if name in shapes and list(shapes[name]) != shape:
      raise ModelDirError(
          'the checkpoint in %s has %s of shape %s, this run needs %s; use a '
          'new --model_dir' % (model_dir, name, shapes[name], shape))


def pool3_side(image_size):
  """Side of pool3 for a square input: VALID conv1 11/4, three VALID 3/2 pools."""
  side = (image_size - 11) // 4 + 1
  for _ in range(3):
    side = (side - 3) // 2 + 1
  return side


def gpu_available():
  """True when TensorFlow can place work on a GPU here."""
  return (tf.test.is_built_with_cuda() and
          tf.test.is_gpu_available(cuda_only=True))


def make_run_config(model_dir, save_checkpoints_steps=None, log_every_n_steps=100,
                    session_config=None):
  """RunConfig with soft placement, so the run uses a GPU if there is one."""
  config = session_config or tf.ConfigProto()
  config.allow_soft_placement = True
  config.gpu_options.allow_growth = True
  kwargs = dict(model_dir=model_dir, session_config=config,
                log_step_count_steps=log_every_n_steps,
                save_summary_steps=log_every_n_steps)
  if save_checkpoints_steps:
    kwargs['save_checkpoints_steps'] = save_checkpoints_steps
    kwargs['save_checkpoints_secs'] = None
  return tf.estimator.RunConfig(**kwargs)


def build_estimator(model_dir, params=None, config=None):
  """Returns a tf.estimator.Estimator for the AlexNet in `model_dir`.

  The class names and image size come from the model description in
  `model_dir` when there is one; `params` overrides other keys (see
  params.DEFAULTS). In a notebook:

    est = alexnet_estimator.build_estimator('runs/demo')
    for p in est.predict(alexnet_estimator.predict_input_fn(paths)):
      print(p['file'], p['class_names'], p['probabilities'].max())

  Args:
    model_dir: the run's folder.
    params: optional dict of hyper-parameter overrides.
    config: optional tf.estimator.RunConfig; by default one for `model_dir`.

  Returns:
    A tf.estimator.Estimator.

  Raises:
    params.ParamError: a key of `params` is unknown or out of range.
    ModelDirError: `params` contradicts the model description.
  """
  full = params_lib.make_params(with_model_info(model_dir, params))
  check_compatible(model_dir, full)
  return tf.estimator.Estimator(
      model_fn=model_fn_lib.model_fn, params=full,
      config=config or make_run_config(model_dir))
