"""End-to-end tests of the CLI: train, eval, predict, export, and bad input.

The CLI runs in subprocesses, as users run it, on tiny generated images at the
smallest size the network takes (67x67).
"""
import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pytest
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import model_dir as model_dir_lib
from tests import helpers

CLASSES = ('apple', 'banana', 'cherry')
TINY = ['--image_size', '67', '--batch_size', '4']


def _digests(folder):
  """{file name: sha1} of every file in `folder`."""
  out = {}
  for path in sorted(glob.glob(os.path.join(folder, '*'))):
    if os.path.isfile(path):
      with open(path, 'rb') as f:
        out[os.path.basename(path)] = hashlib.sha1(f.read()).hexdigest()
  return out


@pytest.mark.slow
class CliEndToEndTest(tf.test.TestCase):
  """One tiny model trained once, then evaluated, used and exported."""

  @classmethod
  def setUpClass(cls):
    super(CliEndToEndTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.root, 'data')
    helpers.make_tree(cls.data_dir, layout='split', classes=CLASSES,
                      train_per_class=4, validation_per_class=2,
                      image_size=(40, 30))
    cls.model_dir = os.path.join(cls.root, 'model')
    cls.train_result = helpers.run_cli(
        '--data_dir', cls.data_dir, '--model_dir', cls.model_dir,
        '--mode', 'train_and_eval', '--max_train_steps', '2',
        '--log_every_n_steps', '1', *TINY)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(CliEndToEndTest, cls).tearDownClass()

  def test_training_writes_checkpoint_description_and_summaries(self):
    code, stdout, stderr = self.train_result
    self.assertEqual(code, 0, stderr)
    checkpoint = tf.train.latest_checkpoint(self.model_dir)
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'), 2)
    info = model_dir_lib.load_model_info(self.model_dir)
    self.assertEqual((info['class_names'], info['image_size'], info['recipe'],
                      info['conv_groups']), (list(CLASSES), 67, 'tutorial', 1))
    # Progress: step, loss, images/sec and steps left in the log.
    self.assertRegex(stderr, r'step 2/2 +loss [0-9.]+ +[0-9.]+ images/sec +'
                             r'0 steps left')
    # train_and_eval ends with the metrics as JSON on stdout.
    metrics = json.loads(stdout.strip().splitlines()[-1])
    self.assertEqual(metrics['global_step'], 2)
    tags = set()
    for path in glob.glob(os.path.join(self.model_dir, 'events.out.*')):
      for event in tf.train.summary_iterator(path):
        tags.update(v.tag for v in event.summary.value)
    for tag in ('loss', 'train_accuracy', 'learning_rate', 'input/image/0'):
      self.assertIn(tag, tags)

  def test_eval_prints_metrics_as_json_on_the_last_line(self):
    code, stdout, stderr = helpers.run_cli(
        '--mode', 'eval', '--data_dir', self.data_dir,
        '--model_dir', self.model_dir, *TINY)
    self.assertEqual(code, 0, stderr)
    metrics = json.loads(stdout.strip().splitlines()[-1])
    for key in ('accuracy', 'accuracy_top_5', 'loss'):
      self.assertIsInstance(metrics[key], float)
    self.assertEqual(metrics['global_step'], 2)
    self.assertEqual(metrics['num_images'], 2 * len(CLASSES))
    self.assertEqual(metrics['accuracy_top_5'], 1.0)  # 3 classes < 5

  def test_predict_prints_one_json_line_per_image_in_order(self):
    folder = os.path.join(self.data_dir, 'validation', 'banana')
    single = sorted(glob.glob(os.path.join(self.data_dir, 'validation',
                                           'apple', '*')))[0]
    bad = os.path.join(self.root, 'notes.jpg')
    with open(bad, 'w') as f:
      f.write('not an image')
    gallery = os.path.join(self.root, 'gallery.png')
    code, stdout, stderr = helpers.run_cli('--mode', 'predict', '--model_dir',
                                           self.model_dir, '--gallery', gallery,
                                           single, bad, folder)
    self.assertEqual(code, 0, stderr)
    with open(gallery, 'rb') as f:
      self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')
    lines = [json.loads(l) for l in stdout.strip().splitlines()]
    expected = [single, bad] + sorted(glob.glob(os.path.join(folder, '*')))
    self.assertEqual([l['file'] for l in lines], expected)
    self.assertIn('error', lines[1])
    for line in lines[:1] + lines[2:]:
      self.assertIn(line['class_name'], CLASSES)
      self.assertEqual(CLASSES[line['class_id']], line['class_name'])
      self.assertBetween(line['probability'], 1.0 / len(CLASSES), 1.0)
    self.assertIn(bad, stderr)  # the warning names the skipped file

  def test_export_serves_the_same_probabilities_as_estimator_predict(self):
    export_base = os.path.join(self.root, 'export')
    code, stdout, stderr = helpers.run_cli(
        '--mode', 'export', '--model_dir', self.model_dir, '--export_dir',
        export_base)
    self.assertEqual(code, 0, stderr)
    export_path = stdout.strip().splitlines()[-1]
    self.assertEqual(os.path.dirname(export_path), export_base)
    self.assertTrue(os.path.basename(export_path).isdigit())  # timestamped
    self.assertTrue(tf.saved_model.contains_saved_model(export_path))

    files = sorted(glob.glob(os.path.join(self.data_dir, 'validation', '*',
                                          '*')))
    estimator = alexnet_estimator.build_estimator(self.model_dir)
    expected = {tf.compat.as_str(p['file']): p['probabilities']
                for p in estimator.predict(alexnet_estimator.predict_input_fn(
                    files, batch_size=4, image_size=67))}
    self.assertEqual(sorted(expected), files)

    # The TF Serving REST form: {"instances": [{"b64": ...}, ...]}.
    body = json.dumps({'instances': [
        {'b64': base64.b64encode(open(f, 'rb').read()).decode('ascii')}
        for f in files]})
    with tf.Graph().as_default(), tf.Session() as sess:
      meta = tf.saved_model.loader.load(sess, ['serve'], export_path)
      signature = meta.signature_def['serving_default']
      self.assertEqual(list(signature.inputs), ['image_bytes'])
      image_input = signature.inputs['image_bytes']
      self.assertEqual(image_input.dtype, tf.string.as_datatype_enum)
      self.assertEqual([d.size for d in image_input.tensor_shape.dim], [-1])
      self.assertEqual(sorted(signature.outputs),
                       ['class_names', 'classes', 'probabilities'])
      # As TF Serving does: one named input, {"b64": s} becomes bytes.
      instances = [base64.b64decode(i['b64'])
                   for i in json.loads(body)['instances']]
      out = sess.run(
          {k: v.name for k, v in signature.outputs.items()},
          {image_input.name: instances})
    for i, path in enumerate(files):
      self.assertAllClose(out['probabilities'][i], expected[path], atol=1e-5,
                          rtol=0)
      class_id = int(np.argmax(expected[path]))
      self.assertEqual(out['classes'][i], class_id)
      self.assertEqual(tf.compat.as_str(out['class_names'][i]),
                       CLASSES[class_id])

  def test_other_classes_stop_before_any_step_and_keep_checkpoints(self):
    other = os.path.join(self.root, 'other_data')
    helpers.make_tree(other, layout='split', classes=('apple', 'durian'),
                      train_per_class=2, validation_per_class=1,
                      image_size=(30, 30))
    before = _digests(self.model_dir)
    code, _, stderr = helpers.run_cli('--data_dir', other, '--model_dir',
                                      self.model_dir, '--max_train_steps', '4',
                                      *TINY)
    self.assertNotEqual(code, 0)
    last = stderr.strip().splitlines()[-1]
    self.assertEqual(last[:len(helpers.ERROR_PREFIX)], helpers.ERROR_PREFIX)
    self.assertIn(self.model_dir, stderr)
    self.assertIn('durian', stderr)
    self.assertNotIn('Traceback', stderr)
    self.assertEqual(_digests(self.model_dir), before)

  def test_other_image_size_stops_before_any_step(self):
    before = _digests(self.model_dir)
    code, _, stderr = helpers.run_cli('--data_dir', self.data_dir,
                                      '--model_dir', self.model_dir,
                                      '--image_size', '99',
                                      '--max_train_steps', '4')
    self.assertNotEqual(code, 0)
    self.assertIn('--image_size 99', stderr)
    self.assertNotIn('Traceback', stderr)
    self.assertEqual(_digests(self.model_dir), before)


@pytest.mark.slow
class ResumeTest(tf.test.TestCase):

  def test_rerun_resumes_from_the_last_checkpoint(self):
    root = self.get_temp_dir()
    data_dir = os.path.join(root, 'data')
    model_dir = os.path.join(root, 'model')
    helpers.make_tree(data_dir, layout='classes', classes=CLASSES,
                      train_per_class=5, image_size=(30, 30))
    args = ['--data_dir', data_dir, '--model_dir', model_dir, '--mode',
            'train', '--validation_percent', '20'] + TINY
    code, _, stderr = helpers.run_cli(*(args + ['--max_train_steps', '1']))
    self.assertEqual(code, 0, stderr)
    code, _, stderr = helpers.run_cli(*(args + ['--max_train_steps', '3']))
    self.assertEqual(code, 0, stderr)
    self.assertIn('Resuming %s from step 1' % model_dir, stderr)
    self.assertEqual(tf.train.load_variable(
        tf.train.latest_checkpoint(model_dir), 'global_step'), 3)


@pytest.mark.slow
class SyntheticDataTest(tf.test.TestCase):

  def test_trains_on_synthetic_data_without_files(self):
    model_dir = os.path.join(self.get_temp_dir(), 'model')
    code, _, stderr = helpers.run_cli('--use_synthetic_data', '--mode',
                                      'train', '--max_train_steps', '2',
                                      '--num_classes', '7',
                                      '--model_dir', model_dir, *TINY)
    self.assertEqual(code, 0, stderr)
    self.assertIn('synthetic data', stderr)
    checkpoint = tf.train.latest_checkpoint(model_dir)
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'), 2)
    self.assertEqual(tf.train.load_variable(checkpoint,
                                            'logits/kernel').shape, (4096, 7))
    code, _, stderr = helpers.run_cli('--use_synthetic_data', '--model_dir',
                                      model_dir, *TINY)
    self.assertNotEqual(code, 0)
    self.assertIn('--use_synthetic_data', stderr.strip().splitlines()[-1])


@pytest.mark.slow
class KilledRunTest(tf.test.TestCase):

  def test_run_killed_mid_way_resumes_and_finishes(self):
    root = self.get_temp_dir()
    data_dir = os.path.join(root, 'data')
    model_dir = os.path.join(root, 'model')
    helpers.make_tree(data_dir, layout='split', classes=CLASSES,
                      train_per_class=2, validation_per_class=1,
                      image_size=(30, 30))
    args = ['--data_dir', data_dir, '--model_dir', model_dir, '--mode',
            'train', '--train_epochs', '1000', '--max_train_steps', '60',
            '--save_checkpoints_steps', '2'] + TINY
    proc = subprocess.Popen(helpers.cli_command(*args),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=helpers.cli_env())
    deadline = time.time() + 300
    # Wait for a checkpoint past the one written at step 0, then kill.
    while (not glob.glob(os.path.join(model_dir, 'model.ckpt-[1-9]*.index'))
           and proc.poll() is None and time.time() < deadline):
      time.sleep(0.1)
    proc.kill()  # SIGKILL: no chance to save anything more
    proc.wait()
    killed_at = tf.train.load_variable(tf.train.latest_checkpoint(model_dir),
                                       'global_step')
    self.assertBetween(killed_at, 1, 59)  # it really was stopped mid-way

    code, _, stderr = helpers.run_cli(*args)
    self.assertEqual(code, 0, stderr)
    self.assertIn('Resuming %s from step %d' % (model_dir, killed_at), stderr)
    self.assertEqual(tf.train.load_variable(
        tf.train.latest_checkpoint(model_dir), 'global_step'), 60)


@pytest.mark.slow
class CliErrorTest(tf.test.TestCase):
  """The one-line stderr contract, end to end in a subprocess.

  Each kind of error the entry point turns into one line: absl's flag errors
  (exit 2), our usage errors (exit 2) and data errors (exit 1). What each
  check refuses is tested in-process in spec_test.py.
  """

  def assertFailsInOneLine(self, code_wanted, names, *args):
    code, stdout, stderr = helpers.run_cli(*args)
    self.assertEqual(code, code_wanted, stderr)
    self.assertEqual(stdout, '')
    lines = stderr.strip().splitlines()
    self.assertEqual(len(lines), 1, stderr)
    self.assertTrue(lines[0].startswith(helpers.ERROR_PREFIX), lines[0])
    for name in names:
      self.assertIn(name, lines[0])

  def test_unknown_flag(self):
    self.assertFailsInOneLine(2, ['bogus'], '--bogus', '1')

  def test_bad_value_and_bad_data_dir(self):
    root = self.get_temp_dir()
    model = os.path.join(root, 'm')
    self.assertFailsInOneLine(2, ['--batch_size'], '--batch_size', '0',
                              '--data_dir', root, '--model_dir', model)
    missing = os.path.join(root, 'nowhere')
    self.assertFailsInOneLine(1, [missing], '--data_dir', missing,
                              '--model_dir', model)
    self.assertFalse(os.path.exists(model))


if __name__ == '__main__':
  tf.test.main()
