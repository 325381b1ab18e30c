"""The export: a SavedModel whose input is a batch of encoded images.

The receiver runs `preprocessing.eval_preprocessor(params)`, the very function
that evaluation uses, so a served image gets the same pixels as an evaluated
one: the SavedModel always applies the evaluation preprocessing the model was
trained with (the tutorial's or the paper's, one view or ten crops).
The input is named `image_bytes`: TF Serving's REST API decodes
`{"instances": [{"b64": "..."}]}` into such a string tensor.
"""
import tensorflow as tf

from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import preprocessing

INPUT_NAME = 'image_bytes'


def serving_input_receiver_fn(params):
  """Returns a receiver fn that accepts a 1-D batch of encoded images.

  Args:
    params: the params dict of the model (params.make_params); its evaluation
      preprocessing keys (preprocessing, image_size, resize_side, eval_crops)
      decide what the receiver feeds the model.

  Returns:
    A function of no arguments returning a ServingInputReceiver with features
    {'x': float32 [B, S, S, 3]} ([B, 10, S, S, 3] with eval_crops 10) and
    receiver tensors {'image_bytes': string [B]}.
  """
  preprocess = preprocessing.eval_preprocessor(params)
  shape = preprocessing.output_shape(params, is_training=False)

  def _receiver_fn():
    image_bytes = tf.placeholder(tf.string, shape=[None], name=INPUT_NAME)
    images = tf.map_fn(preprocess, image_bytes, dtype=tf.float32,
                       back_prop=False)
    images.set_shape([None] + shape)
    return tf.estimator.export.ServingInputReceiver(
        {'x': images}, {INPUT_NAME: image_bytes})
  return _receiver_fn


def export(model_dir, params, export_dir):
  """Writes model_dir's latest checkpoint as a SavedModel under export_dir.

  The SavedModel takes encoded images (see serving_input_receiver_fn) and is
  NHWC, which every device runs.

  Returns:
    The timestamped SavedModel folder (str).
  """
  estimator = estimator_lib.make_estimator(model_dir,
                                           params_lib.nhwc(params))
  path = estimator.export_saved_model(export_dir,
                                      serving_input_receiver_fn(params))
  return tf.compat.as_str(path)
