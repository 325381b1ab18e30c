"""The fault suite of issue 12: what a user can do wrong, or meet, ends well.

Each test is one case of the issue (its number in the docstring): a mistake
or a failure of the system ends in one line, with the exit code errors.py
documents, and never in a silent wrong answer (random predictions, a NaN
checkpoint, accuracy 0.0 of no image). In-process where the process adds
nothing: train.run, spec.resolve and build_estimator, with cli.guard, the
command line's error boundary, standing in for its exit code and its one
line; subprocesses where the process is the point (signals, a closed stdout,
the log a user reads).

Read-only folders are read-only bind mounts and a full disk is a small
tmpfs: both need root, which the tests run as here and in CI; where mounting
is refused the test is skipped with the reason.
"""
import contextlib
import glob
import importlib.util
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import cli
from alexnet_estimator import errors
from alexnet_estimator import export as export_lib
from alexnet_estimator import files as files_lib
from alexnet_estimator import spec as spec_lib
from alexnet_estimator import train
from tests import helpers

CLASSES = ('apple', 'banana')
# The smallest network and batch: every run here trains in seconds.
TINY = {'image_size': 67, 'batch_size': 2}
TINY_FLAGS = ['--image_size', '67', '--batch_size', '2']
# How long a subprocess may take before the test gives up on it.
TIMEOUT_SECS = 300


def _cut_jpeg():
  """A noisy 40x40 JPEG without its last fifth: it fails in its pixels."""
  jpeg = helpers.encode(helpers.solid(helpers.COLOURS[0], (40, 40), noise=60))
  return jpeg[:len(jpeg) * 4 // 5]


def _tree(root, bad_first=False, **kwargs):
  """A 2-class tree of 20x20 images, 2 per class in train/, 1 in validation/.

  With bad_first, train/apple/ also holds a JPEG cut off in its pixel data
  (libjpeg's "Premature end of JPEG data"), named to sort first, so both the
  start-up check and every epoch meet it.
  """
  args = dict(layout='split', classes=CLASSES, train_per_class=2,
              validation_per_class=1, image_size=(20, 20))
  args.update(kwargs)
  written = helpers.make_tree(root, **args)
  if bad_first:
    written['bad'] = [helpers.write(
        os.path.join(root, 'train', CLASSES[0], 'a_cut.jpg'), _cut_jpeg())]
  return written


def _options(**kwargs):
  """train.Options with the tiny network and batch unless given."""
  overrides = dict(TINY, **kwargs.pop('overrides', {}))
  return train.Options(overrides=overrides, **kwargs)


def guarded(options):
  """Runs train.run(options) inside the command line's error boundary.

  Returns:
    (exit code, stdout, stderr): what the command line would end with (0 if
    it returned), print, and print on stderr besides the log.
  """
  out, err = io.StringIO(), io.StringIO()
  code = 0
  with mock.patch.dict(os.environ, {cli.DEBUG_ENV: ''}):
    with contextlib.redirect_stderr(err):
      try:
        cli.guard(train.PROGRAM, lambda: train.run(options, out=out))
      except SystemExit as e:
        code = e.code
  return code, out.getvalue(), err.getvalue()


def error_lines(stderr):
  """The lines of `stderr` that are the command line's error line."""
  return [l for l in stderr.splitlines()
          if l.startswith(helpers.ERROR_PREFIX)]


def snapshot(folder):
  """{relative path: (size, mtime)} of every file under `folder`."""
  found = {}
  for parent, _, names in os.walk(folder):
    for name in names:
      path = os.path.join(parent, name)
      stat = os.stat(path)
      found[os.path.relpath(path, folder)] = (stat.st_size, stat.st_mtime_ns)
  return found


def checkpoint_step(model_dir):
  checkpoint = tf.train.latest_checkpoint(model_dir)
  return None if checkpoint is None else int(
      tf.train.load_variable(checkpoint, 'global_step'))


def _mount(test, *args):
  """Runs `mount ARGS`; a refusal skips `test` with mount's reason."""
  try:
    proc = subprocess.run(['mount'] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
  except OSError as e:
    raise unittest.SkipTest('cannot run mount: %s' % e)
  if proc.returncode:
    raise unittest.SkipTest('mount %s refused: %s'
                            % (' '.join(args), proc.stderr.strip()))


def _unmount(target):
  if subprocess.call(['umount', target], stderr=subprocess.DEVNULL):
    subprocess.call(['umount', '-l', target], stderr=subprocess.DEVNULL)
  shutil.rmtree(target, ignore_errors=True)


def read_only_view(test, source):
  """A read-only bind mount of `source`, unmounted when `test` ends."""
  target = tempfile.mkdtemp(prefix='ro_')
  test.addCleanup(shutil.rmtree, target, ignore_errors=True)
  _mount(test, '--bind', source, target)
  test.addCleanup(_unmount, target)
  _mount(test, '-o', 'remount,bind,ro', target)
  try:
    with open(os.path.join(target, 'probe'), 'w'):
      pass
  except OSError:
    return target
  raise unittest.SkipTest('the read-only bind mount of %s can be written'
                          % source)


def small_disk(test, size):
  """A new tmpfs of `size` (e.g. '110m'), unmounted when `test` ends."""
  target = tempfile.mkdtemp(prefix='tmpfs_')
  test.addCleanup(shutil.rmtree, target, ignore_errors=True)
  _mount(test, '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', target)
  test.addCleanup(_unmount, target)
  return target


class FaultTestCase(tf.test.TestCase):
  """Assertions shared by the fault tests."""

  def assertOneErrorLine(self, result, code, *names):
    """`result` of guarded or run_cli: exit `code`, one line naming `names`.

    Returns:
      The error line.
    """
    got_code, _, stderr = result
    self.assertEqual(got_code, code, stderr[-3000:])
    self.assertNotIn('Traceback', stderr)
    lines = error_lines(stderr)
    self.assertEqual(len(lines), 1, stderr[-3000:])
    for name in names:
      self.assertIn(name, lines[0])
    return lines[0]

  def assertOneLineError(self, caught, *names):
    """An exception's message is one line naming `names`."""
    message = str(caught.exception)
    self.assertNotIn('\n', message)
    for name in names:
      self.assertIn(name, message)
    return message


class RefusedBeforeAnyStepTest(FaultTestCase):
  """Checks spec.resolve makes before anything runs: no model needed."""

  @classmethod
  def setUpClass(cls):
    super(RefusedBeforeAnyStepTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.root, 'data')
    _tree(cls.data_dir)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(RefusedBeforeAnyStepTest, cls).tearDownClass()

  def test_infinite_float_flags_are_usage_errors(self):
    """3: --learning_rate, --weight_decay, --warmup_epochs inf are refused."""
    model_dir = os.path.join(self.root, 'never_written')
    for key in ('learning_rate', 'weight_decay', 'warmup_epochs'):
      for value in (float('inf'), float('-inf'), float('nan')):
        with self.assertRaises(errors.UsageError) as caught:
          spec_lib.resolve(_options(mode='train', model_dir=model_dir,
                                    data_dir=self.data_dir,
                                    overrides={key: value}))
        self.assertOneLineError(caught, '--' + key)
        self.assertEqual(caught.exception.exit_code, 2)
    self.assertFalse(os.path.exists(model_dir))

  def test_json_line_writes_strict_json(self):
    """3: stdout JSON has no NaN or Infinity: they become null."""
    def refuse(constant):
      raise ValueError('not JSON: %s' % constant)
    line = files_lib.json_line({'loss': float('nan'), 'top': float('inf'),
                                'low': [float('-inf'), 1.5], 'step': 3})
    self.assertNotIn('\n', line)
    self.assertEqual(json.loads(line, parse_constant=refuse),
                     {'loss': None, 'top': None, 'low': [None, 1.5],
                      'step': 3})

  def test_one_class_is_refused(self):
    """13: one class would train silently at loss 0."""
    data_dir = os.path.join(self.root, 'one_class')
    _tree(data_dir, classes=('apple',))
    model_dir = os.path.join(self.root, 'one_class_model')
    with self.assertRaises(errors.DataError) as caught:
      train.run(_options(mode='train', model_dir=model_dir,
                         data_dir=data_dir, max_train_steps=1))
    self.assertOneLineError(caught, data_dir, 'two')
    self.assertFalse(os.path.exists(model_dir))

  def test_gallery_without_matplotlib_names_the_plots_extra(self):
    """13: --gallery without matplotlib: a usage error, not ModuleNotFound."""
    find_spec = importlib.util.find_spec

    def without_matplotlib(name, *args, **kwargs):
      if name.split('.')[0] == 'matplotlib':
        return None
      return find_spec(name, *args, **kwargs)
    with mock.patch.object(importlib.util, 'find_spec', without_matplotlib):
      with self.assertRaises(errors.UsageError) as caught:
        spec_lib.resolve(_options(
            mode='predict', model_dir=self.root,
            predict_paths=(self.data_dir,),
            gallery=os.path.join(self.root, 'gallery.png')))
    self.assertOneLineError(caught, '--gallery', '[plots]')


@pytest.mark.slow
class NotebookApiTest(FaultTestCase):
  """5 of What to build: build_estimator on a folder with no trained model."""

  def test_untrained_folder_refuses_predict_evaluate_and_export(self):
    """1: a mistyped folder must not answer with a random network."""
    root = self.get_temp_dir()
    image = helpers.write_image(os.path.join(root, 'x.jpg'),
                                helpers.solid(helpers.COLOURS[0], (20, 20)))
    typo = os.path.join(root, 'runs', 'typo')
    est = alexnet_estimator.build_estimator(typo, TINY)
    with self.assertRaises(errors.ModelDirError) as caught:
      next(iter(est.predict(alexnet_estimator.predict_input_fn(
          image, params=est.params))))
    self.assertIn(typo, str(caught.exception))

    def eval_input():
      return tf.data.Dataset.from_tensors(
          ({'x': tf.zeros([1, 67, 67, 3])}, tf.zeros([1], tf.int32)))
    with self.assertRaises(errors.ModelDirError) as caught:
      est.evaluate(eval_input)
    self.assertIn(typo, str(caught.exception))
    export_dir = os.path.join(root, 'export')
    with self.assertRaises(errors.ModelDirError) as caught:
      est.export_saved_model(export_dir,
                             export_lib.serving_input_receiver_fn(est.params))
    self.assertIn(typo, str(caught.exception))
    self.assertEqual(glob.glob(os.path.join(export_dir, '*')), [])

    # Training through it on a new folder works, as the quickstart does.
    new = os.path.join(root, 'runs', 'new')
    est = alexnet_estimator.build_estimator(
        new, dict(TINY, class_names=list(CLASSES), num_classes=2))
    est.train(alexnet_estimator.input_fn.make_synthetic_input_fn(est.params),
              max_steps=1)
    self.assertEqual(checkpoint_step(new), 1)
    predictions = list(est.predict(alexnet_estimator.predict_input_fn(
        image, params=est.params)))
    self.assertLen(predictions, 1)


@pytest.mark.slow
class TrainedModelFaultTest(FaultTestCase):
  """One tiny model, trained once with train_and_eval, then misused."""

  @classmethod
  def setUpClass(cls):
    super(TrainedModelFaultTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.root, 'data')
    written = _tree(cls.data_dir)
    cls.images = [path for path, _ in written['validation']]
    cls.model_dir = os.path.join(cls.root, 'model')
    cls.train_options = _options(mode='train_and_eval',
                                 model_dir=cls.model_dir,
                                 data_dir=cls.data_dir, max_train_steps=2)
    cls.first_metrics = train.run(cls.train_options, out=io.StringIO()).metrics
    cls.bad = helpers.write(os.path.join(cls.root, 'bad', 'notes.jpg'),
                            helpers.text_bytes())

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(TrainedModelFaultTest, cls).tearDownClass()

  def _train_options(self, **kwargs):
    """Training options on the shared model, to one step past its end."""
    args = dict(mode='train', model_dir=self.model_dir,
                data_dir=self.data_dir, max_train_steps=3)
    args.update(kwargs)
    return _options(**args)

  # 5: resuming with other checkpoint variables.

  def test_resuming_with_another_optimizer_or_dtype_is_refused(self):
    """5: sgd -> adam, adam -> sgd, fp32 -> fp16: one line, nothing touched."""
    before = snapshot(self.model_dir)
    for overrides in ({'optimizer': 'adam'}, {'optimizer': 'momentum'},
                      {'dtype': 'fp16'}):
      with self.assertRaises(errors.ModelDirError) as caught:
        train.run(self._train_options(overrides=overrides),
                  out=io.StringIO())
      self.assertOneLineError(caught, self.model_dir, '--optimizer')
    self.assertEqual(snapshot(self.model_dir), before)

    adam_dir = os.path.join(self.get_temp_dir(), 'adam')
    train.run(self._train_options(model_dir=adam_dir, max_train_steps=1,
                                  overrides={'optimizer': 'adam'}),
              out=io.StringIO())
    before = snapshot(adam_dir)
    with self.assertRaises(errors.ModelDirError) as caught:
      train.run(self._train_options(model_dir=adam_dir, max_train_steps=2,
                                    overrides={'optimizer': 'sgd'}),
                out=io.StringIO())
    self.assertOneLineError(caught, adam_dir)
    self.assertEqual(snapshot(adam_dir), before)
    self.assertEqual(checkpoint_step(adam_dir), 1)

  # 7 and 8: what cannot be written.

  def test_eval_on_a_read_only_model_dir_prints_its_metrics(self):
    """7: the metrics reach stdout though eval/ summaries cannot be written."""
    # The model's eval/ folder exists, as after any train_and_eval.
    self.assertTrue(os.path.isdir(os.path.join(self.model_dir, 'eval')))
    read_only = read_only_view(self, self.model_dir)
    with self.assertLogs('absl', 'WARNING') as logs:
      code, stdout, stderr = guarded(_options(
          mode='eval', model_dir=read_only, data_dir=self.data_dir))
    self.assertEqual(code, 0, stderr)
    # Summaries written elsewhere or skipped, with a warning naming it (not
    # TensorFlow's "Write failed" from C++).
    self.assertTrue([m for m in logs.output if read_only in m], logs.output)
    metrics = json.loads(stdout.strip().splitlines()[-1])
    self.assertEqual((metrics['global_step'], metrics['num_images']), (2, 2))

  def test_model_dir_that_is_a_file_is_one_line(self):
    """8: --model_dir naming a file: one line naming it, exit 2 (a flag)."""
    path = helpers.write(os.path.join(self.get_temp_dir(), 'a_file'), b'x')
    self.assertOneErrorLine(guarded(self._train_options(model_dir=path)), 2,
                            path)

  def test_read_only_model_dir_for_training_is_one_line(self):
    """8: training into a read-only folder: one line naming it, exit 1."""
    empty = tempfile.mkdtemp(dir=self.get_temp_dir())
    read_only = read_only_view(self, empty)
    self.assertOneErrorLine(
        guarded(self._train_options(model_dir=read_only)), 1, read_only)

  def test_read_only_export_dir_is_one_line(self):
    """8: --export_dir on a read-only folder: one line naming it, exit 1."""
    empty = tempfile.mkdtemp(dir=self.get_temp_dir())
    read_only = read_only_view(self, empty)
    self.assertOneErrorLine(
        guarded(_options(mode='export', model_dir=self.model_dir,
                         export_dir=read_only)), 1, read_only)

  def test_gallery_on_a_read_only_path_is_one_line(self):
    """8: --gallery in a read-only folder: one line naming it, exit 1."""
    empty = tempfile.mkdtemp(dir=self.get_temp_dir())
    gallery = os.path.join(read_only_view(self, empty), 'gallery.png')
    self.assertOneErrorLine(
        guarded(_options(mode='predict', model_dir=self.model_dir,
                         predict_paths=(self.images[0],), gallery=gallery)),
        1, gallery)

  # 9 and 10: evaluations.

  def test_eval_with_no_readable_validation_image_is_refused(self):
    """9: never accuracy 0.0 of zero images."""
    data_dir = os.path.join(self.get_temp_dir(), 'unreadable_validation')
    _tree(data_dir, validation_per_class=0)
    for name in CLASSES:
      helpers.write(os.path.join(data_dir, 'validation', name, 'cut.jpg'),
                    helpers.truncated_jpeg())
    with self.assertRaises(errors.DataError) as caught:
      train.run(_options(mode='eval', model_dir=self.model_dir,
                         data_dir=data_dir), out=io.StringIO())
    self.assertOneLineError(caught, data_dir)

  def test_rerun_of_a_finished_run_prints_its_metrics(self):
    """10: the metrics line, stored or evaluated if the last step has none."""
    self.assertEqual(self.first_metrics['global_step'], 2)
    evaluation = os.path.join(self.model_dir, 'evaluation.json')

    def rerun():
      out = io.StringIO()
      result = train.run(self.train_options, out=out)
      self.assertEqual(checkpoint_step(self.model_dir), 2)  # no step more
      line = json.loads(out.getvalue().strip().splitlines()[-1])
      self.assertEqual(line, result.metrics)
      return line
    self.assertEqual(rerun(), self.first_metrics)
    # An evaluation of another step (killed during the last one): evaluated.
    stale = dict(self.first_metrics, global_step=1, loss=123.0)
    files_lib.write_json(evaluation, stale)
    metrics = rerun()
    self.assertEqual((metrics['global_step'], metrics['num_images']), (2, 2))
    self.assertNotEqual(metrics['loss'], 123.0)
    os.remove(evaluation)
    metrics = rerun()
    self.assertEqual((metrics['global_step'], metrics['num_images']), (2, 2))

  # 13: predict.

  def test_gallery_with_no_readable_image_is_one_line(self):
    """13: not IndexError: each file gets its line, then one error line."""
    gallery = os.path.join(self.get_temp_dir(), 'gallery.png')
    result = guarded(_options(mode='predict', model_dir=self.model_dir,
                              predict_paths=(self.bad,), gallery=gallery))
    self.assertOneErrorLine(result, 1)
    self.assertEqual(json.loads(result[1]),
                     {'file': self.bad, 'error': 'not a readable image'})
    self.assertFalse(os.path.exists(gallery))

  def test_predict_on_an_empty_folder_is_one_line(self):
    """13: an empty folder printed nothing at all."""
    empty = tempfile.mkdtemp(dir=self.get_temp_dir())
    result = guarded(_options(mode='predict', model_dir=self.model_dir,
                              predict_paths=(empty,)))
    self.assertOneErrorLine(result, 1, empty)
    self.assertEqual(result[1], '')

  def test_the_same_bad_file_twice_is_one_line_and_counted_once(self):
    """13 and 6 of What to build: a partial result, each bad file once."""
    with self.assertLogs('absl', 'WARNING') as logs:
      code, stdout, stderr = guarded(_options(
          mode='predict', model_dir=self.model_dir,
          predict_paths=(self.bad, self.images[0], self.bad)))
    self.assertEqual(code, 0, stderr)
    lines = [json.loads(l) for l in stdout.strip().splitlines()]
    self.assertEqual([l['file'] for l in lines], [self.bad, self.images[0]])
    self.assertEqual([l['file'] for l in lines if 'error' in l], [self.bad])
    named = [m for m in logs.output if self.bad in m]
    self.assertLen(named, 1, logs.output)
    totals = [m for m in logs.output if 'unreadable file(s)' in m]
    self.assertLen(totals, 1, logs.output)
    self.assertIn('Skipped 1 unreadable', totals[0])

  def test_truncated_checkpoint_is_one_line_naming_it(self):
    """13: eval and predict of a truncated checkpoint: one line, exit 1."""
    model_dir = os.path.join(self.get_temp_dir(), 'truncated')
    os.makedirs(model_dir)
    latest = tf.train.latest_checkpoint(self.model_dir)
    for path in glob.glob(latest + '.*') + [
        os.path.join(self.model_dir, 'alexnet_model.json')]:
      shutil.copy(path, model_dir)
    name = os.path.basename(latest)
    with open(os.path.join(model_dir, 'checkpoint'), 'w') as f:
      f.write('model_checkpoint_path: "%s"\n' % name)
    data, = glob.glob(os.path.join(model_dir, name + '.data-*'))
    os.truncate(data, os.path.getsize(data) // 2)
    self.assertOneErrorLine(
        guarded(_options(mode='eval', model_dir=model_dir,
                         data_dir=self.data_dir)), 1, name)
    self.assertOneErrorLine(
        guarded(_options(mode='predict', model_dir=model_dir,
                         predict_paths=(self.images[0],))), 1, name)

  def test_predict_input_fn_takes_paths(self):
    """13: predict_input_fn(pathlib.Path(...)) raised TypeError."""
    est = alexnet_estimator.build_estimator(self.model_dir)
    for paths, wanted in (
        (pathlib.Path(self.images[0]), self.images[:1]),
        ([pathlib.Path(p) for p in self.images], self.images)):
      got = [tf.compat.as_str(p['file']) for p in est.predict(
          alexnet_estimator.predict_input_fn(paths, params=est.params))]
      self.assertEqual(got, wanted)

  def test_closed_stdout_ends_quietly(self):
    """13: `--mode predict ... | head -1`: no BrokenPipeError, exit 141.

    Enough long-named files that their lines fill the pipe: the run is still
    writing when the reader, having read a line, closes it.
    """
    folder = os.path.join(self.get_temp_dir(), 'many')
    os.makedirs(folder)
    for i in range(400):
      shutil.copy(self.images[0],
                  os.path.join(folder, '%s_%03d.jpg' % ('x' * 200, i)))
    stderr_path = os.path.join(self.get_temp_dir(), 'stderr')
    with open(stderr_path, 'w') as stderr:
      proc = subprocess.Popen(
          helpers.cli_command('--mode', 'predict', '--model_dir',
                              self.model_dir, '--batch_size', '100', folder),
          stdout=subprocess.PIPE, stderr=stderr, env=helpers.cli_env(),
          universal_newlines=True)
      first = proc.stdout.readline()
      proc.stdout.close()
      code = proc.wait(timeout=TIMEOUT_SECS)
    with open(stderr_path) as f:
      log = f.read()
    self.assertIn('class_name', json.loads(first))
    self.assertEqual(code, 141, log[-3000:])
    for text in ('Traceback', 'BrokenPipeError', 'Exception ignored'):
      self.assertNotIn(text, log)


@pytest.mark.slow
class IntegrityTest(FaultTestCase):
  """3 and 8: a diverged step or a full disk never becomes a checkpoint."""

  def test_diverged_run_keeps_its_last_finite_checkpoint(self):
    """3: exit 3, one line naming the step; the latest checkpoint finite."""
    root = self.get_temp_dir()
    data_dir = os.path.join(root, 'data')
    _tree(data_dir)
    model_dir = os.path.join(root, 'model')
    line = self.assertOneErrorLine(guarded(_options(
        mode='train', model_dir=model_dir, data_dir=data_dir,
        max_train_steps=5, save_checkpoints_steps=1,
        overrides={'learning_rate': 1e6})), 3, model_dir)
    step = int(re.search(r'at step (\d+)', line).group(1))
    checkpoint = tf.train.latest_checkpoint(model_dir)
    self.assertIsNotNone(checkpoint)
    self.assertLessEqual(checkpoint_step(model_dir), step)
    reader = tf.train.load_checkpoint(checkpoint)
    for name in reader.get_variable_to_shape_map():
      value = reader.get_tensor(name)
      if np.issubdtype(np.asarray(value).dtype, np.floating):
        self.assertTrue(np.all(np.isfinite(value)), name)

  def test_full_disk_is_one_line_and_leaves_no_partial_checkpoint(self):
    """8: room for one checkpoint (83 MB at 67x67), not for the second."""
    root = self.get_temp_dir()
    data_dir = os.path.join(root, 'data')
    _tree(data_dir)
    model_dir = small_disk(self, '110m')
    line = self.assertOneErrorLine(guarded(_options(
        mode='train', model_dir=model_dir, data_dir=data_dir,
        max_train_steps=2, save_checkpoints_steps=1)), 1)
    self.assertIn('no space left', line.lower())
    self.assertEqual(glob.glob(os.path.join(model_dir, '*_temp_*')), [])
    self.assertEqual(glob.glob(os.path.join(model_dir, '*.tmp*')), [])
    self.assertEqual(checkpoint_step(model_dir), 0)  # intact and readable


def _interrupt_on_progress(args, signum, after_step=0):
  """Runs the CLI; sends `signum` once it logs a step past `after_step`.

  Returns:
    (exit code, stdout (not kept: ''), stderr, the step of the progress line
    signalled after, or None if the run never logged one).
  """
  proc = subprocess.Popen(
      helpers.cli_command(*args), stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, universal_newlines=True,
      env=helpers.cli_env({'PYTHONUNBUFFERED': '1'}))
  timer = threading.Timer(TIMEOUT_SECS, proc.kill)
  timer.start()
  lines, signalled_after = [], None
  try:
    for line in proc.stderr:
      lines.append(line)
      found = re.search(r'step (\d+)/\d+ ', line)
      if (found and signalled_after is None and
          int(found.group(1)) > after_step):
        proc.send_signal(signum)
        signalled_after = int(found.group(1))
    code = proc.wait()
  finally:
    timer.cancel()
  return code, '', ''.join(lines), signalled_after


@pytest.mark.slow
class SignalTest(FaultTestCase):
  """11 and 9 (log): one run, SIGINT, resumed, SIGTERM, resumed to its end.

  The training set holds a truncated JPEG that sorts first, so the last run's
  log shows how often a bad file is named over several epochs.
  """

  @classmethod
  def setUpClass(cls):
    super(SignalTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    data_dir = os.path.join(cls.root, 'data')
    cls.bad = _tree(data_dir, bad_first=True)['bad'][0]
    cls.model_dir = os.path.join(cls.root, 'model')
    # 5 training files, batch 2, 6 epochs: 15 steps.
    cls.args = ['--mode', 'train', '--data_dir', data_dir, '--model_dir',
                cls.model_dir, '--train_epochs', '6', '--log_every_n_steps',
                '1'] + TINY_FLAGS
    cls.runs = {}
    cls.runs['SIGINT'] = _interrupt_on_progress(cls.args, signal.SIGINT)
    cls.steps = {'SIGINT': checkpoint_step(cls.model_dir)}
    cls.runs['SIGTERM'] = _interrupt_on_progress(
        cls.args, signal.SIGTERM, after_step=cls.steps['SIGINT'] or 0)
    cls.steps['SIGTERM'] = checkpoint_step(cls.model_dir)
    cls.runs['end'] = helpers.run_cli(*cls.args)
    cls.steps['end'] = checkpoint_step(cls.model_dir)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(SignalTest, cls).tearDownClass()

  def assertInterrupted(self, name, code, after):
    """The run signalled with `name`: exit `code`, saved at the step named."""
    result, step = self.runs[name][:3], self.steps[name]
    signalled_after = self.runs[name][3]
    self.assertIsNotNone(signalled_after, 'no progress line before the end')
    line = self.assertOneErrorLine(result, code, name)
    self.assertEqual(line, result[2].strip().splitlines()[-1])
    self.assertIn('interrupted', line)
    self.assertIn('saved', line)
    named = int(re.search(r'at step (\d+)', line).group(1))
    self.assertEqual(named, step)  # a checkpoint at the step named
    self.assertGreaterEqual(step, signalled_after)  # what was logged is saved
    self.assertGreater(step, after)
    self.assertLess(step, 15)

  def test_sigint_saves_and_exits_130(self):
    """11: Ctrl-C: a checkpoint at step N, one line, exit 130."""
    self.assertInterrupted('SIGINT', 130, 0)

  def test_sigterm_resumes_then_saves_and_exits_143(self):
    """11: the rerun resumed, then SIGTERM: saved, one line, exit 143."""
    stderr = self.runs['SIGTERM'][2]
    self.assertIn('Resuming %s from step %d' % (self.model_dir,
                                                self.steps['SIGINT']), stderr)
    self.assertInterrupted('SIGTERM', 143, self.steps['SIGINT'])

  def test_rerun_resumes_to_the_end(self):
    """11: the same command resumes from the saved step and finishes."""
    code, _, stderr = self.runs['end']
    self.assertEqual(code, 0, stderr[-3000:])
    self.assertIn('Resuming %s from step %d' % (self.model_dir,
                                                self.steps['SIGTERM']), stderr)
    self.assertEqual(self.steps['end'], 15)

  def test_log_has_one_voice(self):
    """9 (log): our progress lines only; a bad file named once in 4 epochs."""
    _, _, stderr = self.runs['end']
    self.assertRegex(stderr, r'step \d+/15 +loss [0-9.]+ +[0-9.]+ '
                             r'images/sec .*ETA')
    self.assertNotIn('loss = ', stderr)
    self.assertNotIn('global_step/sec', stderr)
    libjpeg = [l for l in stderr.splitlines() if 'JPEG data' in l or
               'JPEG library' in l]  # "Premature end of JPEG data", ...
    self.assertLessEqual(len(libjpeg), 1, stderr)
    named = [l for l in stderr.splitlines() if self.bad in l]
    self.assertLen(named, 1, stderr)
