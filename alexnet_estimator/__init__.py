"""AlexNet on tf.estimator (TensorFlow 1.15): train, evaluate, predict, export.

Notebook use:

  import alexnet_estimator
  est = alexnet_estimator.build_estimator('RUN')       # a trained model_dir
  for p in est.predict(alexnet_estimator.predict_input_fn(['cat.jpg'])):
    print(p['file'], p['class_names'], p['probabilities'].max())
"""
from alexnet_estimator import image_folder as _image_folder
from alexnet_estimator import input_fn as _input_fn
from alexnet_estimator import params as _params
from alexnet_estimator.estimator import build_estimator

# The network and model_fn are alexnet_estimator.model_fn.alexnet / .model_fn.
__all__ = ['build_estimator', 'predict_input_fn']


def predict_input_fn(paths, batch_size=32,
                     image_size=_params.DEFAULTS['image_size'], skipped=None):
  """Returns an input_fn for `Estimator.predict` over image files or folders.

  Each prediction dict carries 'file' (bytes) besides 'classes',
  'class_names' and 'probabilities', in the order of `paths` (folders listed
  sorted). Unreadable files are skipped with a warning.

  Args:
    paths: a path or a list of image file and folder paths.
    batch_size: images per batch.
    image_size: the side the model was trained at (224 unless changed).
    skipped: optional input_fn.SkippedFiles that records skipped files.

  Returns:
    A function of no arguments returning a tf.data.Dataset of feature dicts.
  """
  if isinstance(paths, str):
    paths = [paths]
  return _input_fn.make_predict_input_fn(
      _image_folder.expand_paths(paths), batch_size, image_size,
      skipped if skipped is not None else _input_fn.SkippedFiles())
