"""Tests for the params dict: defaults, overrides, validation."""
import unittest

from alexnet_estimator import params as params_lib


class MakeParamsTest(unittest.TestCase):

  def test_defaults_are_the_tutorials(self):
    params = params_lib.make_params()
    self.assertEqual(params['image_size'], 224)
    self.assertEqual(params['optimizer'], 'sgd')
    self.assertEqual(params['learning_rate'], 0.01)
    self.assertEqual(params['dropout_rate'], 0.5)
    self.assertEqual(params['num_classes'], 1000)

  def test_overrides_from_dict_and_kwargs_and_a_new_dict(self):
    overrides = {'num_classes': 3, 'batch_size': 8}
    params = params_lib.make_params(overrides, batch_size=4)
    self.assertEqual((params['num_classes'], params['batch_size']), (3, 4))
    self.assertEqual(overrides, {'num_classes': 3, 'batch_size': 8})
    self.assertEqual(set(params), set(params_lib.DEFAULTS))

  def test_unknown_key_is_named(self):
    with self.assertRaises(params_lib.ParamError) as caught:
      params_lib.make_params(learnig_rate=0.1)
    self.assertEqual(caught.exception.key, 'learnig_rate')

  def test_out_of_range_values_are_named(self):
    bad = [('image_size', 66), ('image_size', 100.5), ('num_classes', 0),
           ('batch_size', 0), ('batch_size', True), ('learning_rate', 0),
           ('momentum', 1.0), ('dropout_rate', 1.0), ('optimizer', 'rmsprop'),
           ('data_format', 'NCHW'), ('class_names', ['a', 'b'])]
    for key, value in bad:
      with self.assertRaises(params_lib.ParamError, msg=key) as caught:
        params_lib.make_params({key: value})
      self.assertEqual(caught.exception.key, key)

  def test_ten_crops_need_a_preprocessing_that_crops(self):
    for preprocessing in ('paper', 'caffe'):
      self.assertEqual(params_lib.make_params(
          preprocessing=preprocessing, eval_crops=10)['eval_crops'], 10)
    with self.assertRaises(params_lib.ParamError) as caught:
      params_lib.make_params(eval_crops=10)  # the tutorial's resize
    self.assertEqual(caught.exception.key, 'eval_crops')
    self.assertIn('paper or caffe', str(caught.exception))

  def test_class_names(self):
    params = params_lib.make_params(num_classes=2, class_names=['x', 'y'])
    self.assertEqual(params_lib.class_names(params), ('x', 'y'))
    self.assertEqual(params_lib.class_names(
        params_lib.make_params(num_classes=3)), ('0', '1', '2'))
    with self.assertRaisesRegex(params_lib.ParamError, 'unique'):
      params_lib.make_params(num_classes=2, class_names=['x', 'x'])


if __name__ == '__main__':
  unittest.main()
