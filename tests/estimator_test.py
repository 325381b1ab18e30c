"""Tests for the model_dir description and compatibility checks."""
import os

import tensorflow as tf

from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import params as params_lib


def _save_checkpoint(model_dir, num_classes, image_size, **params):
  """Writes a checkpoint holding the network's variables (zeros)."""
  shapes = estimator_lib.model_variable_shapes(params_lib.make_params(
      params, num_classes=num_classes, image_size=image_size))
  with tf.Graph().as_default():
    tf.train.create_global_step()
    for name, shape in shapes.items():
      tf.get_variable(name, shape, initializer=tf.zeros_initializer())
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
    with self.assertRaisesRegex(estimator_lib.ModelDirError, 'logits/'):
      estimator_lib.check_compatible(model_dir, self._params(['a', 'b']))
    with self.assertRaisesRegex(estimator_lib.ModelDirError, 'dense1/kernel'):
      estimator_lib.check_compatible(model_dir,
                                     self._params(['a', 'b', 'c'], 224))

  def test_grouped_checkpoint_is_another_network(self):
    model_dir = self.get_temp_dir()
    _save_checkpoint(model_dir, 2, 67, conv_groups=2)
    estimator_lib.check_compatible(
        model_dir, params_lib.make_params(num_classes=2, image_size=67,
                                          conv_groups=2))
    with self.assertRaisesRegex(estimator_lib.ModelDirError,
                                'has no conv2/'):
      estimator_lib.check_compatible(model_dir, self._params(['a', 'b']))

  def test_settings_of_the_description_must_match(self):
    model_dir = self.get_temp_dir()
    params = params_lib.make_params(recipe='paper', num_classes=2,
                                    class_names=['a', 'b'], image_size=67,
                                    resize_side=80)
    estimator_lib.save_model_info(model_dir, ['a', 'b'], 67, params)
    info = estimator_lib.load_model_info(model_dir)
    self.assertEqual((info['recipe'], info['lrn_convention'],
                      info['conv_groups'], info['resize_side']),
                     ('paper', 'paper', 2, 80))
    estimator_lib.check_compatible(model_dir, params)
    for key, value in (('lrn_convention', 'caffe'), ('resize_side', 90),
                       ('preprocessing', 'tutorial')):
      with self.assertRaisesRegex(estimator_lib.ModelDirError,
                                  '--%s' % key):
        estimator_lib.check_compatible(
            model_dir, params_lib.make_params(params, eval_crops=1,
                                              **{key: value}))
    # An old description (no recipe keys) is a tutorial model.
    estimator_lib.save_model_info(model_dir, ['a', 'b'], 67)
    with self.assertRaisesRegex(estimator_lib.ModelDirError,
                                '--lrn_convention'):
      estimator_lib.check_compatible(model_dir, params)

  def test_with_model_info_fills_the_recipe_settings(self):
    model_dir = self.get_temp_dir()
    params = params_lib.make_params(recipe='paper', num_classes=2,
                                    class_names=['a', 'b'], image_size=67,
                                    resize_side=80)
    estimator_lib.save_model_info(model_dir, ['a', 'b'], 67, params)
    filled = params_lib.make_params(
        estimator_lib.with_model_info(model_dir, {'batch_size': 3}))
    self.assertEqual((filled['conv_groups'], filled['optimizer'],
                      filled['resize_side'], filled['batch_size']),
                     (2, 'momentum', 80, 3))


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
