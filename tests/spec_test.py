"""Tests for spec.py: every check runs before the run writes anything.

In-process: the command line's argv goes through absl's parser and
train.options_from_flags, as main does; tests/train_test.py keeps the
subprocess checks of the one-line stderr contract.
"""
import json
import os
import shutil
import tempfile
from unittest import mock

from absl import flags
from absl.testing import flagsaver
import tensorflow as tf

from alexnet_estimator import errors
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import spec as spec_lib
from alexnet_estimator import train
from tests import helpers

FLAGS = flags.FLAGS
CLASSES = ('apple', 'banana')


class ValidationBeforeAnyWriteTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super(ValidationBeforeAnyWriteTest, cls).setUpClass()
    flags_lib.define_train_flags()
    cls.root = tempfile.mkdtemp()
    cls.good = os.path.join(cls.root, 'good')
    helpers.make_tree(cls.good, layout='split', classes=CLASSES,
                      train_per_class=2, validation_per_class=1,
                      image_size=(20, 20))
    cls.empty = os.path.join(cls.root, 'empty')
    os.makedirs(cls.empty)
    cls.imageless = os.path.join(cls.root, 'imageless')
    helpers.make_tree(cls.imageless, layout='classes', classes=CLASSES,
                      train_per_class=2, image_size=(20, 20))
    notes = os.path.join(cls.imageless, 'durian')
    os.makedirs(notes)
    with open(os.path.join(notes, 'readme.txt'), 'w') as f:
      f.write('no pictures here')

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(ValidationBeforeAnyWriteTest, cls).tearDownClass()

  def assertRefused(self, names, *args, **kwargs):
    """Runs argv in-process; asserts an errors.Error naming `names`."""
    error = kwargs.pop('error', errors.Error)
    with flagsaver.flagsaver():
      argv = FLAGS(['alexnet_estimator.train'] + list(args))
      with self.assertRaises(error) as caught:
        train.run(train.options_from_flags(argv))
    message = str(caught.exception)
    self.assertNotIn('\n', message)
    for name in names:
      self.assertIn(name, message)
    return caught.exception

  def test_flag_parser_refuses_unknown_flags_and_modes(self):
    with flagsaver.flagsaver():
      with self.assertRaises(flags.UnrecognizedFlagError):
        FLAGS(['prog', '--bogus', '1'])
      with self.assertRaises(flags.IllegalFlagValueError):
        FLAGS(['prog', '--mode', 'fly'])

  def test_bad_values_are_usage_errors_named_as_flags(self):
    model = os.path.join(self.root, 'm')
    common = ['--data_dir', self.good, '--model_dir', model]
    for flag, value in (('batch_size', '0'), ('learning_rate', '-1'),
                        ('learning_rate', 'inf'), ('weight_decay', 'nan'),
                        ('warmup_epochs', 'inf'), ('image_size', '32'),
                        ('max_train_steps', '0'),
                        ('validation_percent', '100')):
      e = self.assertRefused(['--' + flag], '--' + flag, value, *common,
                             error=errors.UsageError)
      self.assertEqual(e.exit_code, 2)
    self.assertFalse(os.path.exists(model))  # failed before any work

  def test_bad_recipe_values_fail_before_the_data_is_read(self):
    common = ['--data_dir', os.path.join(self.root, 'no_such_data'),
              '--model_dir', os.path.join(self.root, 'm')]
    self.assertRefused(['--conv_groups', '3'], '--conv_groups', '3', *common)
    self.assertRefused(['--eval_crops', 'preprocessing paper or caffe'],
                       '--eval_crops', '10', *common)
    self.assertRefused(['--resize_side', '227'], '--recipe', 'paper',
                       '--resize_side', '200', *common)
    self.assertRefused(['--warm_start_from'], '--mode', 'eval',
                       '--warm_start_from', self.root, *common)

  def test_flags_that_need_others(self):
    self.assertRefused(['--gallery'], '--mode', 'eval', '--data_dir',
                       self.good, '--model_dir', self.root, '--gallery',
                       os.path.join(self.root, 'g.png'))
    self.assertRefused(['--model_dir'], '--data_dir', self.good)
    self.assertRefused(['--data_dir'], '--model_dir', self.root)
    self.assertRefused(['--export_dir'], '--mode', 'export', '--model_dir',
                       self.root)
    self.assertRefused(['--mode predict'], '--mode', 'predict',
                       '--model_dir', self.root)
    self.assertRefused(['unexpected argument'], '--model_dir', self.root,
                       '--data_dir', self.good, 'stray.jpg')

  def test_bad_data_dirs_are_data_errors(self):
    model = os.path.join(self.root, 'm2')
    missing = os.path.join(self.root, 'nowhere')
    for data_dir, named in ((missing, missing), (self.empty, self.empty),
                            (self.imageless,
                             os.path.join(self.imageless, 'durian'))):
      e = self.assertRefused([named], '--data_dir', data_dir, '--model_dir',
                             model, error=errors.DataError)
      self.assertEqual(e.exit_code, 1)
    self.assertFalse(os.path.exists(model))

  def test_no_readable_training_image_writes_nothing(self):
    unreadable = os.path.join(self.root, 'unreadable')
    for name in CLASSES:
      helpers.write(os.path.join(unreadable, name, 'x.jpg'),
                    helpers.bad_files()['truncated.jpg'])
    model = os.path.join(self.root, 'm3')
    self.assertRefused(['none of its 2 training files'], '--data_dir',
                       unreadable, '--model_dir', model, '--mode', 'train',
                       '--max_train_steps', '2', error=errors.DataError)
    # No model description left to refuse the corrected run, no folder.
    self.assertFalse(os.path.exists(model))

  def test_predict_and_export_need_a_trained_model(self):
    untrained = os.path.join(self.root, 'untrained')
    self.assertRefused([untrained], '--mode', 'predict', '--model_dir',
                       untrained, self.good, error=errors.ModelDirError)
    self.assertRefused([untrained], '--mode', 'export', '--model_dir',
                       untrained, '--export_dir', self.root,
                       error=errors.ModelDirError)
    self.assertFalse(os.path.exists(untrained))

  def test_a_refused_cluster_task_leaves_no_tf_config(self):
    tf_config = {'cluster': {'chief': ['localhost:1'],
                             'ps': ['localhost:2']},
                 'task': {'type': 'chief', 'index': 0}}
    model = os.path.join(self.root, 'm4')
    with mock.patch.dict(os.environ, clear=False):
      os.environ.pop('TF_CONFIG', None)
      for overrides in ({'lr_schedule': 'plateau'}, {'batch_size': 0}):
        with self.assertRaises(errors.UsageError):
          train.run(train.Options(
              'train', model, data_dir=self.good, max_train_steps=1,
              overrides=overrides, tf_config=tf_config))
        self.assertNotIn('TF_CONFIG', os.environ)
    self.assertFalse(os.path.exists(model))


class ResolveTest(tf.test.TestCase):

  def test_resolve_fills_params_from_data_and_steps_from_epochs(self):
    data_dir = os.path.join(self.get_temp_dir(), 'data')
    helpers.make_tree(data_dir, layout='split', classes=CLASSES,
                      train_per_class=5, validation_per_class=1,
                      image_size=(20, 20))
    model = os.path.join(self.get_temp_dir(), 'model')
    spec = spec_lib.resolve(spec_lib.Options(
        'train_and_eval', model, data_dir=data_dir, train_epochs=3,
        epochs_between_evals=2,
        overrides={'batch_size': 4, 'image_size': 67, 'momentum': None}))
    self.assertEqual(spec.params['class_names'], CLASSES)
    self.assertEqual(spec.params['steps_per_epoch'], 3)  # ceil(10 / 4)
    # ceil(3 * 10 / 4) and ceil(2 * 10 / 4).
    self.assertEqual((spec.last_step, spec.steps_per_cycle), (8, 5))
    self.assertEqual(spec.params['momentum'], 0.9)  # None: not given
    self.assertFalse(os.path.exists(model))

  def test_a_warm_start_takes_the_source_runs_network_settings(self):
    root = self.get_temp_dir()
    source = os.path.join(root, 'source')
    model_dir_lib.save_model_info(source, params_lib.make_params(
        class_names=['x', 'y'], num_classes=2, image_size=80,
        lrn_convention='caffe', conv_groups=2, resize_side=90,
        preprocessing='paper', eval_crops=10))
    data_dir = os.path.join(root, 'data')
    helpers.make_tree(data_dir, layout='split', classes=CLASSES,
                      train_per_class=2, validation_per_class=1,
                      image_size=(20, 20))
    options = spec_lib.Options('train', os.path.join(root, 'new'),
                               data_dir=data_dir, warm_start_from=source,
                               max_train_steps=1)
    # No checkpoint there yet: the settings are taken before that is found.
    with self.assertRaisesRegex(errors.UsageError, 'no checkpoint there'):
      spec_lib.resolve(options)
    params = spec_lib._params(options, spec_lib._description(options))
    self.assertEqual(
        (params['image_size'], params['lrn_convention'],
         params['conv_groups'], params['resize_side'],
         params['preprocessing'], params['eval_crops']),
        (80, 'caffe', 2, 90, 'paper', 10))
    self.assertIsNone(params['class_names'])  # the data's, never the source's
    mine = spec_lib._params(options._replace(overrides={'conv_groups': 1}),
                            spec_lib._description(options))
    self.assertEqual((mine['conv_groups'], mine['image_size']), (1, 80))

  def test_options_refuse_unknown_fields(self):
    with self.assertRaises(TypeError):
      spec_lib.Options('train', 'm', data_dri='typo')

  def test_predict_takes_the_model_dir_description(self):
    model = self.get_temp_dir()
    with open(model_dir_lib.model_info_path(model), 'w') as f:
      json.dump({'class_names': ['x', 'y'], 'image_size': 80}, f)
    with self.assertRaisesRegex(errors.ModelDirError, 'has no checkpoint'):
      spec_lib.resolve(spec_lib.Options('predict', model,
                                        predict_paths=['a.jpg']))


if __name__ == '__main__':
  tf.test.main()
