"""Tests for the model_dir description and compatibility checks."""
import os

import tensorflow as tf

from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import params as params_lib


def _save_checkpoint(model_dir, num_classes, image_size):
  """Writes a checkpoint holding just the dense layers' kernels."""
  side = estimator_lib.pool3_side(image_size)
  with tf.Graph().as_default():
    tf.train.create_global_step()
    tf.get_variable('dense1/kernel', [256 * side * side, 4096])
    tf.get_variable('logits/kernel', [4096, num_classes])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver().save(sess, os.path.join(model_dir, 'model.ckpt'))


class ModelInfoTest(tf.test.TestCase):

  def test_round_trip_leaves_no_temporary_file(self):
    model_dir = os.path.join(self.get_temp_dir(), 'run')
    self.assertIsNone(estimator_lib.load_model_info(model_dir))
    estimator_lib.save_model_info(model_dir, ('b', 'a'), 96)
    self.assertEqual(estimator_lib.load_model_info(model_dir),
                     {'class_names': ['b', 'a'], 'image_size': 96})
    self.assertEqual(os.listdir(model_dir), [estimator_lib.MODEL_INFO_FILE])

  def test_corrupt_description_is_named(self):
    model_dir = self.get_temp_dir()
    with open(estimator_lib.model_info_path(model_dir), 'w') as f:
      f.write('{"class_names": [')
    with self.assertRaisesRegex(estimator_lib.ModelDirError,
                                estimator_lib.MODEL_INFO_FILE):
      estimator_lib.load_model_info(model_dir)

  def test_pool3_side(self):
    self.assertEqual(estimator_lib.pool3_side(224), 5)
    self.assertEqual(estimator_lib.pool3_side(227), 6)
    self.assertEqual(estimator_lib.pool3_side(67), 1)


class CheckCompatibleTest(tf.test.TestCase):

  def _params(self, names, image_size=67):
    return params_lib.make_params(num_classes=len(names), class_names=names,
                                  image_size=image_size)

  def test_same_model_passes(self):
    model_dir = self.get_temp_dir()
    estimator_lib.save_model_info(model_dir, ['a', 'b'], 67)
    _save_checkpoint(model_dir, 2, 67)
    estimator_lib.check_compatible(model_dir, self._params(['a', 'b']))

  def test_other_classes_fail_and_name_them(self):
    model_dir = self.get_temp_dir()
    estimator_lib.save_model_info(model_dir, ['a', 'b'], 67)
    with self.assertRaisesRegex(estimator_lib.ModelDirError, "'c'"):
      estimator_lib.check_compatible(model_dir, self._params(['a', 'c']))
    with self.assertRaises(estimator_lib.ModelDirError):  # same set, reordered
      estimator_lib.check_compatible(model_dir, self._params(['b', 'a']))

  def test_other_image_size_fails(self):
    model_dir = self.get_temp_dir()
    estimator_lib.save_model_info(model_dir, ['a', 'b'], 67)
    with self.assertRaisesRegex(estimator_lib.ModelDirError, 'image_size'):
      estimator_lib.check_compatible(model_dir, self._params(['a', 'b'], 99))

  def test_checkpoint_shapes_are_checked_without_a_description(self):
    model_dir = self.get_temp_dir()
    _save_checkpoint(model_dir, 3, 67)
    estimator_lib.check_compatible(model_dir, self._params(['a', 'b', 'c']))
    with self.assertRaisesRegex(estimator_lib.ModelDirError, 'logits/kernel'):
      estimator_lib.check_compatible(model_dir, self._params(['a', 'b']))
    with self.assertRaisesRegex(estimator_lib.ModelDirError, 'dense1/kernel'):
      estimator_lib.check_compatible(model_dir,
                                     self._params(['a', 'b', 'c'], 224))


class BuildEstimatorTest(tf.test.TestCase):

  def test_takes_classes_and_size_from_the_model_dir(self):
    model_dir = self.get_temp_dir()
    estimator_lib.save_model_info(model_dir, ['x', 'y', 'z'], 80)
    est = estimator_lib.build_estimator(model_dir, {'batch_size': 2})
    self.assertEqual(est.params['class_names'], ('x', 'y', 'z'))
    self.assertEqual(est.params['num_classes'], 3)
    self.assertEqual(est.params['image_size'], 80)
    self.assertEqual(est.params['batch_size'], 2)
    self.assertTrue(est.config.session_config.allow_soft_placement)

  def test_rejects_unknown_params(self):
    with self.assertRaises(params_lib.ParamError):
      estimator_lib.build_estimator(self.get_temp_dir(), {'lr': 1})


if __name__ == '__main__':
  tf.test.main()
