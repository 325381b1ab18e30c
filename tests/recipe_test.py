"""End to end: the paper's recipe through the CLI, plateau drops across a
restart, warm start for new classes, and the export of the paper pipeline.

Tiny generated images; the paper's 227/256 geometry scaled down to 67/76.
"""
import glob
import os
import shutil
import tempfile

import pytest
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import schedule
from alexnet_estimator import serving
from tests import helpers

CLASSES = ('apple', 'banana', 'cherry')
# 12 training images in batches of 4: an epoch is 3 steps, evaluated after
# each. A rate this small leaves the validation accuracy flat, so the plateau
# schedule (patience 1) drops at the second evaluation.
PAPER = ['--recipe', 'paper', '--image_size', '67', '--resize_side', '76',
         '--batch_size', '4', '--learning_rate', '1e-6',
         '--plateau_patience', '1', '--log_every_n_steps', '1']


def _summaries(model_dir, tag):
  """{step: value} of scalar summary `tag` in model_dir's event files."""
  values = {}
  for path in glob.glob(os.path.join(model_dir, 'events.out.*')):
    for event in tf.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = value.simple_value
  return values


@pytest.mark.slow
class PaperRecipeTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super(PaperRecipeTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.root, 'data')
    helpers.make_tree(cls.data_dir, layout='split', classes=CLASSES,
                      train_per_class=4, validation_per_class=2,
                      image_size=(50, 40))
    cls.model_dir = os.path.join(cls.root, 'model')
    cls.train_result = helpers.run_cli(
        '--data_dir', cls.data_dir, '--model_dir', cls.model_dir,
        '--max_train_steps', '6', *PAPER)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(PaperRecipeTest, cls).tearDownClass()

  def test_trains_the_paper_network_and_drops_the_rate_on_a_plateau(self):
    code, _, stderr = self.train_result
    self.assertEqual(code, 0, stderr)
    checkpoint = tf.train.latest_checkpoint(self.model_dir)
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'), 6)
    shapes = dict(tf.train.list_variables(checkpoint))
    self.assertEqual(shapes['conv2/group0/kernel'], [5, 5, 48, 128])
    self.assertIn('conv1/kernel/Momentum', shapes)
    info = model_dir_lib.load_model_info(self.model_dir)
    self.assertEqual((info['recipe'], info['conv_groups'], info['eval_crops']),
                     ('paper', 2, 10))
    state = schedule.load(self.model_dir)
    self.assertEqual([h['step'] for h in state['history']], [3, 6])
    self.assertEqual([h['event'] for h in state['history']],
                     ['improved', 'drop'])
    self.assertIn('learning rate now 1e-07 (drop 1 of 3)', stderr)
    rates = _summaries(self.model_dir, 'learning_rate')
    self.assertAllClose([rates[s] for s in sorted(rates)], [1e-6] * len(rates))
    # With weight decay, the loss is cross-entropy + decay: both logged.
    losses = _summaries(self.model_dir, 'loss')
    cross_entropy = _summaries(self.model_dir, 'cross_entropy_loss')
    self.assertTrue(cross_entropy)
    for step, value in cross_entropy.items():
      if step in losses:
        self.assertGreater(losses[step], value)

  def test_a_restart_keeps_the_dropped_rate(self):
    model_dir = os.path.join(self.root, 'restarted')
    shutil.copytree(self.model_dir, model_dir)
    code, _, stderr = helpers.run_cli(
        '--data_dir', self.data_dir, '--model_dir', model_dir,
        '--max_train_steps', '9', *PAPER)
    self.assertEqual(code, 0, stderr)
    self.assertIn('Resuming', stderr)
    rates = _summaries(model_dir, 'learning_rate')
    self.assertAllClose([rates[s] for s in (7, 8, 9)], [1e-7] * 3)
    state = schedule.load(model_dir)
    self.assertEqual([h['step'] for h in state['history']], [3, 6, 9])
    self.assertEqual(state['history'][-1]['learning_rate'], 1e-7)

  def test_export_serves_what_estimator_predict_gives(self):
    export_base = os.path.join(self.root, 'export')
    code, stdout, stderr = helpers.run_cli(
        '--mode', 'export', '--model_dir', self.model_dir, '--export_dir',
        export_base)
    self.assertEqual(code, 0, stderr)
    export_path = stdout.strip().splitlines()[-1]
    files = sorted(glob.glob(os.path.join(self.data_dir, 'validation', '*',
                                          '*')))
    estimator = alexnet_estimator.build_estimator(self.model_dir)
    self.assertEqual(estimator.params['eval_crops'], 10)
    expected = [p['probabilities'] for p in estimator.predict(
        alexnet_estimator.predict_input_fn(files, batch_size=4,
                                           params=estimator.params))]
    predictor = serving.Predictor(export_path)
    try:
      served = predictor.predict([open(f, 'rb').read() for f in files])
    finally:
      predictor.close()
    self.assertAllClose(served['probabilities'], expected, atol=1e-5, rtol=0)

  def test_early_stopping_ends_training_and_a_rerun_does_not_resume(self):
    model_dir = os.path.join(self.root, 'early')
    args = ['--data_dir', self.data_dir, '--model_dir', model_dir,
            '--train_epochs', '10', '--early_stopping_patience', '1',
            '--lr_schedule', 'constant', '--learning_rate', '1e-12',
            '--recipe', 'paper', '--image_size', '67', '--resize_side', '76',
            '--batch_size', '4', '--eval_crops', '1']
    code, _, stderr = helpers.run_cli(*args)
    self.assertEqual(code, 0, stderr)
    self.assertIn('Stopping early at step 6', stderr)
    checkpoint = tf.train.latest_checkpoint(model_dir)
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'), 6)
    code, _, stderr = helpers.run_cli(*args)
    self.assertEqual(code, 0, stderr)
    self.assertIn('stopped early at step 6', stderr)
    self.assertEqual(tf.train.latest_checkpoint(model_dir), checkpoint)

  def test_warm_start_keeps_the_features_and_renews_the_classifier(self):
    data_dir = os.path.join(self.root, 'two_classes')
    helpers.make_tree(data_dir, layout='split', classes=('durian', 'fig'),
                      train_per_class=4, validation_per_class=1,
                      image_size=(50, 40))
    model_dir = os.path.join(self.root, 'finetuned')
    args = ['--data_dir', data_dir, '--model_dir', model_dir, '--mode',
            'train', '--max_train_steps', '1', '--warm_start_from',
            self.model_dir] + PAPER[:-6] + ['--learning_rate', '1e-12']
    code, _, stderr = helpers.run_cli(*args)
    self.assertEqual(code, 0, stderr)
    source = tf.train.latest_checkpoint(self.model_dir)
    tuned = tf.train.latest_checkpoint(model_dir)
    for name in ('conv1/kernel', 'conv2/group1/kernel', 'dense2/kernel',
                 'dense2/bias'):
      self.assertAllClose(tf.train.load_variable(tuned, name),
                          tf.train.load_variable(source, name), atol=1e-6,
                          msg=name)
    self.assertEqual(tf.train.load_variable(tuned, 'logits/kernel').shape,
                     (4096, 2))
    self.assertEqual(tf.train.load_variable(tuned, 'global_step'), 1)

    # Now model_dir has checkpoints: the warm start would be ignored.
    code, _, stderr = helpers.run_cli(*(args[:7] + ['2'] + args[8:]))
    self.assertEqual(code, 2)
    last = stderr.strip().splitlines()[-1]
    self.assertTrue(
        last.startswith(helpers.ERROR_PREFIX + '--warm_start_from'), last)
    self.assertIn('--resume', last)
    self.assertEqual(tf.train.load_variable(
        tf.train.latest_checkpoint(model_dir), 'global_step'), 1)
    code, _, stderr = helpers.run_cli(
        *(args[:7] + ['2', '--resume'] + args[8:]))
    self.assertEqual(code, 0, stderr)
    self.assertEqual(tf.train.load_variable(
        tf.train.latest_checkpoint(model_dir), 'global_step'), 2)


if __name__ == '__main__':
  tf.test.main()
