"""Tests for the SavedModel serving input: the evaluation preprocessing."""
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from alexnet_estimator import export as export_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import preprocessing
from tests import helpers


def _encoded_images():
  """Real encoded images of several sizes, aspects and formats."""
  rng = np.random.RandomState(0)

  def noise(width, height):
    return rng.randint(0, 256, (height, width, 3)).astype(np.uint8)
  return [helpers.encode(noise(80, 90), 'RGB', 'PNG'),
          helpers.encode(noise(90, 70), 'RGB', 'JPEG', quality=90),
          helpers.encode(helpers.solid(helpers.COLOURS[2], (67, 67)),
                         'RGB', 'PNG'),
          helpers.encode(noise(120, 68), 'L', 'JPEG')]


class ServingInputReceiverTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('paper_ten_crops', dict(preprocessing='paper', resize_side=76,
                               eval_crops=10), [10, 67, 67, 3]),
      ('paper_one_crop', dict(preprocessing='paper', resize_side=76),
       [67, 67, 3]),
      ('tutorial', {}, [67, 67, 3]),
      ('paper_recipe', dict(recipe='paper', image_size=227),
       [10, 227, 227, 3]))
  def test_features_are_the_eval_preprocessing_of_each_image(
      self, overrides, view_shape):
    params = params_lib.make_params(
        dict(dict(image_size=67, batch_size=4), **overrides))
    encoded = _encoded_images()
    receiver = export_lib.serving_input_receiver_fn(params)()
    self.assertEqual(sorted(receiver.receiver_tensors),
                     [export_lib.INPUT_NAME])
    image_bytes = receiver.receiver_tensors[export_lib.INPUT_NAME]
    self.assertEqual(image_bytes.dtype, tf.string)
    self.assertEqual(image_bytes.shape.as_list(), [None])
    images = receiver.features['x']
    self.assertEqual(images.dtype, tf.float32)
    self.assertEqual(images.shape.as_list(), [None] + view_shape)
    preprocess = preprocessing.eval_preprocessor(params)
    expected = [preprocess(tf.constant(data)) for data in encoded]
    with self.cached_session() as sess:
      served = sess.run(images, {image_bytes: encoded})
      expected = sess.run(expected)
    self.assertAllEqual(served.shape, [len(encoded)] + view_shape)
    for got, want in zip(served, expected):
      self.assertAllEqual(got, want)

  def test_tutorial_receiver_gives_the_tutorial_pixels(self):
    params = params_lib.make_params(image_size=67)
    encoded = _encoded_images()[:2]
    receiver = export_lib.serving_input_receiver_fn(params)()
    expected = [preprocessing.preprocess_image(tf.constant(data), 67)
                for data in encoded]
    with self.cached_session() as sess:
      served = sess.run(receiver.features['x'],
                        {receiver.receiver_tensors['image_bytes']: encoded})
      for got, want in zip(served, sess.run(expected)):
        self.assertAllEqual(got, want)
        self.assertAllInRange(got, 0.0, 1.0)

  def test_bad_bytes_fail_the_request(self):
    params = params_lib.make_params(image_size=67, preprocessing='paper',
                                    resize_side=76, eval_crops=10)
    receiver = export_lib.serving_input_receiver_fn(params)()
    with self.cached_session() as sess:
      with self.assertRaises(tf.errors.InvalidArgumentError):
        sess.run(receiver.features['x'],
                 {receiver.receiver_tensors['image_bytes']:
                      [_encoded_images()[0], helpers.truncated_png()]})


if __name__ == '__main__':
  tf.test.main()
