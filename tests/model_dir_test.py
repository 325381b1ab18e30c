"""Tests for the model_dir description and compatibility checks."""
import os

import tensorflow as tf

from alexnet_estimator import files
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import params as params_lib


def _save(model_dir, class_names, image_size, **params):
  """Writes the description of a model of these classes, size and params."""
  model_dir_lib.save_model_info(model_dir, params_lib.make_params(
      params, class_names=class_names, num_classes=len(class_names),
      image_size=image_size))


def _save_checkpoint(model_dir, num_classes, image_size, **params):
  """Writes a checkpoint holding the network's variables (zeros)."""
  shapes = model_dir_lib.model_variable_shapes(params_lib.make_params(
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
    self.assertIsNone(model_dir_lib.load_model_info(model_dir))
    _save(model_dir, ('b', 'a'), 96, recipe='paper')
    info = model_dir_lib.load_model_info(model_dir)
    self.assertEqual(info['class_names'], ['b', 'a'])
    self.assertEqual(info['image_size'], 96)
    self.assertEqual(sorted(info), sorted(('class_names',) +
                                          model_dir_lib.MODEL_KEYS))
    self.assertEqual((info['recipe'], info['conv_groups']), ('paper', 2))
    self.assertEqual(os.listdir(model_dir), [model_dir_lib.MODEL_INFO_FILE])

  def test_corrupt_description_is_named(self):
    model_dir = self.get_temp_dir()
    with open(model_dir_lib.model_info_path(model_dir), 'w') as f:
      f.write('{"class_names": [')
    with self.assertRaisesRegex(model_dir_lib.ModelDirError,
                                model_dir_lib.MODEL_INFO_FILE):
      model_dir_lib.load_model_info(model_dir)

class CheckCompatibleTest(tf.test.TestCase):

  def _params(self, names, image_size=67):
    return params_lib.make_params(num_classes=len(names), class_names=names,
                                  image_size=image_size)

  def test_same_model_passes(self):
    model_dir = self.get_temp_dir()
    _save(model_dir, ['a', 'b'], 67)
    _save_checkpoint(model_dir, 2, 67)
    model_dir_lib.check_compatible(model_dir, self._params(['a', 'b']))

  def test_other_classes_fail_and_name_them(self):
    model_dir = self.get_temp_dir()
    _save(model_dir, ['a', 'b'], 67)
    with self.assertRaisesRegex(model_dir_lib.ModelDirError, "'c'"):
      model_dir_lib.check_compatible(model_dir, self._params(['a', 'c']))
    with self.assertRaises(model_dir_lib.ModelDirError):  # same set, reordered
      model_dir_lib.check_compatible(model_dir, self._params(['b', 'a']))

  def test_other_image_size_fails(self):
    model_dir = self.get_temp_dir()
    _save(model_dir, ['a', 'b'], 67)
    with self.assertRaisesRegex(model_dir_lib.ModelDirError, 'image_size'):
      model_dir_lib.check_compatible(model_dir, self._params(['a', 'b'], 99))

  def test_checkpoint_shapes_are_checked_without_a_description(self):
    model_dir = self.get_temp_dir()
    _save_checkpoint(model_dir, 3, 67)
    model_dir_lib.check_compatible(model_dir, self._params(['a', 'b', 'c']))
    with self.assertRaisesRegex(model_dir_lib.ModelDirError, 'logits/'):
      model_dir_lib.check_compatible(model_dir, self._params(['a', 'b']))
    with self.assertRaisesRegex(model_dir_lib.ModelDirError, 'dense1/kernel'):
      model_dir_lib.check_compatible(model_dir,
                                     self._params(['a', 'b', 'c'], 224))

  def test_grouped_checkpoint_is_another_network(self):
    model_dir = self.get_temp_dir()
    _save_checkpoint(model_dir, 2, 67, conv_groups=2)
    model_dir_lib.check_compatible(
        model_dir, params_lib.make_params(num_classes=2, image_size=67,
                                          conv_groups=2))
    with self.assertRaisesRegex(model_dir_lib.ModelDirError,
                                'has no conv2/'):
      model_dir_lib.check_compatible(model_dir, self._params(['a', 'b']))

  def test_settings_of_the_description_must_match(self):
    model_dir = self.get_temp_dir()
    params = params_lib.make_params(recipe='paper', num_classes=2,
                                    class_names=['a', 'b'], image_size=67,
                                    resize_side=80)
    model_dir_lib.save_model_info(model_dir, params)
    info = model_dir_lib.load_model_info(model_dir)
    self.assertEqual((info['recipe'], info['lrn_convention'],
                      info['conv_groups'], info['resize_side']),
                     ('paper', 'paper', 2, 80))
    model_dir_lib.check_compatible(model_dir, params)
    for key, value in (('lrn_convention', 'caffe'), ('resize_side', 90),
                       ('preprocessing', 'tutorial')):
      with self.assertRaisesRegex(model_dir_lib.ModelDirError,
                                  '--%s' % key):
        model_dir_lib.check_compatible(
            model_dir, params_lib.make_params(params, eval_crops=1,
                                              **{key: value}))
    # An old description (no recipe keys) is a tutorial model.
    files.write_json(model_dir_lib.model_info_path(model_dir),
                     {'class_names': ['a', 'b'], 'image_size': 67})
    with self.assertRaisesRegex(model_dir_lib.ModelDirError,
                                '--lrn_convention'):
      model_dir_lib.check_compatible(model_dir, params)

  def test_resolve_params_fills_the_recipe_settings(self):
    model_dir = self.get_temp_dir()
    params = params_lib.make_params(recipe='paper', num_classes=2,
                                    class_names=['a', 'b'], image_size=67,
                                    resize_side=80)
    model_dir_lib.save_model_info(model_dir, params)
    filled = model_dir_lib.resolve_params(model_dir, {'batch_size': 3,
                                                      'momentum': None})
    self.assertEqual((filled['conv_groups'], filled['optimizer'],
                      filled['resize_side'], filled['batch_size'],
                      filled['momentum'], filled['class_names']),
                     (2, 'momentum', 80, 3, 0.9, ('a', 'b')))
    # The data's classes win over the description's (and are then compared).
    other = model_dir_lib.resolve_params(model_dir, data_classes=['c'])
    self.assertEqual((other['class_names'], other['num_classes']),
                     (('c',), 1))



class CheckResumableTest(tf.test.TestCase):

  def _checkpoint_of_a_run(self, model_dir, **params):
    shapes = model_dir_lib.training_variable_shapes(params_lib.make_params(
        params, num_classes=2, image_size=67))
    with tf.Graph().as_default():
      for name, shape in shapes.items():
        dtype = tf.int64 if name == 'global_step' else tf.float32
        tf.get_variable(name, shape, dtype, initializer=tf.zeros_initializer())
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        tf.train.Saver().save(sess, os.path.join(model_dir, 'model.ckpt'))

  def test_another_optimizer_dtype_or_frozen_set_is_refused(self):
    model_dir = self.get_temp_dir()
    self._checkpoint_of_a_run(model_dir, optimizer='momentum')
    same = params_lib.make_params(num_classes=2, image_size=67,
                                  optimizer='momentum')
    model_dir_lib.check_resumable(model_dir, same)
    for other, named in (({'optimizer': 'adam'}, 'beta1_power'),
                         ({'optimizer': 'sgd'}, '/Momentum'),
                         ({'trainable_layers': 'logits'}, '/Momentum')):
      with self.assertRaisesRegex(model_dir_lib.ModelDirError, named):
        model_dir_lib.check_resumable(
            model_dir, params_lib.make_params(same, **other))

  def test_no_checkpoint_is_nothing_to_check(self):
    model_dir_lib.check_resumable(self.get_temp_dir(), params_lib.make_params(
        num_classes=2, image_size=67))

if __name__ == '__main__':
  tf.test.main()
