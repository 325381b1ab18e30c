"""Tests for the Estimator builders."""
import tensorflow as tf

from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import params as params_lib


class BuildEstimatorTest(tf.test.TestCase):

  def test_takes_classes_and_size_from_the_model_dir(self):
    model_dir = self.get_temp_dir()
    model_dir_lib.save_model_info(model_dir, params_lib.make_params(
        class_names=['x', 'y', 'z'], num_classes=3, image_size=80))
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
