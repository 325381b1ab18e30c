"""SavedModel serving input: a batch of encoded images, decoded in the graph.

The receiver runs `preprocessing.preprocess_image`, the very function that
evaluation uses, so a served image gets the same pixels as an evaluated one.
The input is named `image_bytes`: TF Serving's REST API decodes
`{"instances": [{"b64": "..."}]}` into such a string tensor.
"""
import functools

import tensorflow as tf

from alexnet_estimator import preprocessing

INPUT_NAME = 'image_bytes'


def serving_input_receiver_fn(image_size):
  """Returns a receiver fn that accepts a 1-D batch of encoded images.

  Args:
    image_size: Python int, the side the model was trained at.

  Returns:
    A function of no arguments returning a ServingInputReceiver with features
    {'x': float32 [B, image_size, image_size, 3]} and receiver tensors
    {'image_bytes': string [B]}.
  """
  def _receiver_fn():
    image_bytes = tf.placeholder(tf.string, shape=[None], name=INPUT_NAME)
    preprocess = functools.partial(preprocessing.preprocess_image,
                                   image_size=image_size)
    images = tf.map_fn(preprocess, image_bytes, dtype=tf.float32,
                       back_prop=False)
    return tf.estimator.export.ServingInputReceiver(
        {'x': images}, {INPUT_NAME: image_bytes})
  return _receiver_fn
