"""AlexNet on tf.estimator (TensorFlow 1.15): train, evaluate, predict, export.

Notebook use:

  import alexnet_estimator
  est = alexnet_estimator.build_estimator('RUN')       # a trained model_dir
  for p in est.predict(alexnet_estimator.predict_input_fn(['cat.jpg'],
                                                          params=est.params)):
    print(p['file'], p['class_names'], p['probabilities'].max())

`params=est.params` gives the images the evaluation preprocessing the model was
trained with (the tutorial's or the paper's, its image size, its crops);
without it, predict_input_fn uses the tutorial's at `image_size`.

`est.predict` rebuilds the graph and restores the checkpoint on every call.
For many calls, export once (`--mode export`) and keep a Predictor: it loads
the SavedModel once and answers paths, encoded bytes or RGB arrays, with the
same evaluation preprocessing:

  predictor = alexnet_estimator.Predictor('RUN_EXPORT')  # or RUN_EXPORT/<ts>
  out = predictor.predict('cat.jpg')          # or bytes, an array, a list
  print(out['class_names'][0], out['probabilities'][0].max())
  predictor.close()                           # or use it in a `with`
"""
import os

from alexnet_estimator import image_folder as _image_folder
from alexnet_estimator import input_fn as _input_fn
from alexnet_estimator import log as _log
from alexnet_estimator import params as _params
from alexnet_estimator.estimator import build_estimator
from alexnet_estimator.serving import Predictor

# The network and model_fn are alexnet_estimator.model_fn.alexnet / .model_fn.
__all__ = ['Predictor', 'build_estimator', 'predict_input_fn']


def predict_input_fn(paths, batch_size=32, image_size=None, skipped=None,
                     params=None):
  """Returns an input_fn for `Estimator.predict` over image files or folders.

  Each prediction dict carries 'file' (bytes) besides 'classes',
  'class_names' and 'probabilities', in the order of `paths` (folders listed
  sorted). Unreadable files are skipped with a warning.

  Args:
    paths: a path (str or pathlib.Path) or a list of image file and folder
      paths.
    batch_size: images per batch (always this argument's, never params').
    image_size: the side the model was trained at; None: params'
      image_size, or 224 (params.DEFAULTS) without `params`. Given beside
      `params`, it wins.
    skipped: optional input_fn.SkippedFiles that records skipped files.
    params: optional params dict of the model, e.g. `est.params` of an
      Estimator from build_estimator: the images then get the evaluation
      preprocessing the model was trained with (its preprocessing,
      image_size, resize_side and eval_crops). None: the tutorial's
      preprocessing (resize to image_size, values in [0, 1]).

  Returns:
    A function of no arguments returning a tf.data.Dataset of feature dicts.

  Raises:
    params.ParamError: `params`, `batch_size` or `image_size` is out of range.
  """
  _log.quiet()
  if isinstance(paths, (str, os.PathLike)):
    paths = [paths]
  overrides = dict(params or {}, batch_size=batch_size)
  if image_size is not None:
    overrides['image_size'] = image_size
  skipped = skipped if skipped is not None else _input_fn.SkippedFiles()
  unreadable = []  # broken links, unreadable folders: warned as found
  files = _image_folder.expand_paths([os.fspath(p) for p in paths],
                                     unreadable)
  for entry in unreadable:
    skipped.add_listed(entry.path, entry.reason)
  return _input_fn.make_predict_input_fn(files, _params.resolve(overrides),
                                         skipped)
