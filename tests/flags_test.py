"""Tests for flags.py: groups defined on demand, generated from params."""
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import tensorflow as tf

from alexnet_estimator import flags as flags_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import train

FLAGS = flags.FLAGS


class ImportDefinesNothingTest(tf.test.TestCase):

  def test_importing_the_entry_points_registers_no_flag(self):
    # A fresh interpreter: this process's FLAGS already hold the groups.
    code = ('from absl import flags\n'
            'import alexnet_estimator.train, alexnet_estimator.build_tfrecords\n'
            'import alexnet_estimator.weights\n'
            'import alexnet_estimator\n'
            'print(len(flags.FLAGS), sorted(\n'
            '    f.name for m, fs in flags.FLAGS.flags_by_module_dict().items()\n'
            '    if "alexnet" in m for f in fs))\n')
    out = subprocess.check_output([sys.executable, '-c', code],
                                  universal_newlines=True)
    count, ours = out.strip().split(' ', 1)
    self.assertGreater(int(count), 0)  # absl's and TF's own are there
    self.assertEqual(ours, '[]')


class GeneratedFlagsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super(GeneratedFlagsTest, cls).setUpClass()
    flags_lib.define_train_flags()
    flags_lib.define_build_tfrecords_flags()  # all in one process: no clash
    flags_lib.define_weights_flags()

  def test_every_tunable_key_has_a_flag_and_every_such_flag_a_key(self):
    group = flags.FlagValues()
    flags_lib.define_hparam_flags(group)
    self.assertEqual(set(group), set(params_lib.TUNABLE))
    # No other group defines a flag named after a params key, but the
    # synthetic data's --num_classes; keys the run sets itself are no flags.
    defined = {f.name for f in
               FLAGS.flags_by_module_dict()['alexnet_estimator.flags']}
    self.assertEqual(defined & set(params_lib.DEFAULTS),
                     set(params_lib.TUNABLE) | {'num_classes'})

  def test_hparam_flags_default_to_none_and_show_the_default(self):
    for key, (default, _) in params_lib.TUNABLE.items():
      self.assertIsNone(FLAGS[key].default, key)
      self.assertIn('(default %s)' % (default,), FLAGS[key].help, key)

  def test_choices_become_enums_and_types_follow_the_default(self):
    with flagsaver.flagsaver():
      FLAGS(['prog', '--optimizer', 'adam', '--conv_groups', '2',
             '--weight_decay', '5e-4', '--nodecay_biases'])
      self.assertEqual((FLAGS.optimizer, FLAGS.conv_groups,
                        FLAGS.weight_decay, FLAGS.decay_biases),
                       ('adam', 2, 5e-4, False))
      with self.assertRaises(flags.IllegalFlagValueError):
        FLAGS(['prog', '--optimizer', 'rmsprop'])

  def test_flags_become_options_with_hparams_as_overrides(self):
    with flagsaver.flagsaver():
      argv = FLAGS(['prog', '--mode', 'predict', '--model_dir', 'RUN',
                    '--batch_size', '8', 'a.jpg', 'b'])
      options = train.options_from_flags(argv)
    self.assertEqual((options.mode, options.model_dir, options.predict_paths),
                     ('predict', 'RUN', ('a.jpg', 'b')))
    self.assertEqual(options.overrides['batch_size'], 8)
    self.assertIsNone(options.overrides['learning_rate'])
    self.assertEqual(set(options.overrides), set(params_lib.TUNABLE))


if __name__ == '__main__':
  tf.test.main()
