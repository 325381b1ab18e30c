"""Tests for the folder-tree -> TFRecord converter."""
import contextlib
import glob
import io
import os
import subprocess
import sys
import time

from absl import flags
from absl.testing import flagsaver
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from alexnet_estimator import build_tfrecords
from alexnet_estimator import errors
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import tfrecords
from tests import helpers

FLAGS = flags.FLAGS


def _records(paths):
  """All records of `paths` as {filename: (label, synset, image)}."""
  out = {}
  for path in paths:
    for record in tf.compat.v1.io.tf_record_iterator(path):
      feature = tf.train.Example.FromString(record).features.feature
      encoded = feature['image/encoded'].bytes_list.value[0]
      out[feature['image/filename'].bytes_list.value[0].decode()] = (
          feature['image/class/label'].int64_list.value[0],
          feature['image/class/synset'].bytes_list.value[0].decode(),
          encoded)
  return out


class ConvertTest(tf.test.TestCase):

  def test_round_trip_of_awkward_files(self):
    root = self.get_temp_dir()
    tree = os.path.join(root, 'tree')
    helpers.make_tree(tree, classes=('cat', 'dog'), train_per_class=2,
                      validation_per_class=1)
    red = helpers.solid((220, 30, 30), (32, 24))
    awkward = {
        'png_named.JPEG': helpers.encode(red, 'RGB', 'PNG'),
        'cmyk.jpg': helpers.encode(red, 'CMYK', 'JPEG'),
        'gray.jpg': helpers.encode(red, 'L', 'JPEG'),
        'rgba.png': helpers.encode(red, 'RGBA', 'PNG'),
    }
    for name, data in awkward.items():
      helpers.write(os.path.join(tree, 'train', 'dog', name), data)
    corrupt = helpers.write(os.path.join(tree, 'train', 'cat', 'bad.jpg'),
                            helpers.bad_files()['truncated.jpg'])
    out = os.path.join(root, 'out')
    info = build_tfrecords.convert(tree, out, train_shards=3,
                                   validation_shards=2, num_workers=2,
                                   out=io.StringIO())

    self.assertEqual(info['class_names'], ['cat', 'dog'])
    self.assertEqual(info['num_records'], {'train': 8, 'validation': 2})
    self.assertEqual(sorted(os.path.basename(p) for p in glob.glob(
        os.path.join(out, '*-of-*'))),
                     ['train-00000-of-00003', 'train-00001-of-00003',
                      'train-00002-of-00003', 'validation-00000-of-00002',
                      'validation-00001-of-00002'])
    with open(os.path.join(out, 'skipped.txt')) as f:
      report = f.read()
    self.assertEqual(report.count('\n'), 1)
    self.assertIn(corrupt, report)

    records = _records(tfrecords.shards(out, 'train'))
    self.assertEqual(len(records), 8)
    for name in awkward:
      label, synset, encoded = records[name]
      self.assertEqual((label, synset), (2, 'dog'))  # labels 1..N
      self.assertEqual(encoded[:3], b'\xff\xd8\xff')  # all JPEG now
      image = Image.open(io.BytesIO(encoded))
      self.assertEqual(image.mode, 'RGB')
      if name != 'gray.jpg':
        self.assertAllClose(np.asarray(image).reshape(-1, 3).mean(axis=0),
                            (220, 30, 30), atol=12)
    self.assertEqual(records['train_cat_00.jpg'][:2], (1, 'cat'))
    # An RGB JPEG is stored as it was, byte for byte.
    with open(os.path.join(tree, 'train', 'cat', 'train_cat_00.jpg'),
              'rb') as f:
      self.assertEqual(records['train_cat_00.jpg'][2], f.read())
    # And the reader agrees.
    described = tfrecords.describe(out)
    self.assertEqual(described.class_names, ('cat', 'dog'))
    self.assertEqual((described.num_train, described.num_validation), (8, 2))

  @pytest.mark.slow
  def test_killed_midway_then_rerun_gives_complete_shards(self):
    root = self.get_temp_dir()
    tree = os.path.join(root, 'tree')
    rng = np.random.RandomState(0)
    for i in range(240):  # noisy PNGs: slow enough to re-encode
      array = rng.randint(0, 256, size=(160, 160, 3)).astype(np.uint8)
      helpers.write(os.path.join(tree, 'c%d' % (i % 2), '%03d.png' % i),
                    helpers.encode(array, 'RGB', 'PNG'))
    out = os.path.join(root, 'out')
    args = [sys.executable, '-m', 'alexnet_estimator.build_tfrecords',
            '--input_dir', tree, '--output_dir', out, '--train_shards', '24',
            '--validation_shards', '1', '--num_workers', '1']
    env = helpers.cli_env()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while (not tfrecords.shards(out, 'train') and proc.poll() is None and
           time.time() < deadline):
      time.sleep(0.05)
    subprocess.run(['pkill', '-9', '-P', str(proc.pid)])  # pool workers
    proc.kill()
    proc.wait()
    done = tfrecords.shards(out, 'train')
    self.assertBetween(len(done), 1, 23)  # stopped mid-way
    for path in done:  # a final name always means a complete shard
      self.assertFalse(tfrecords.scan_shard(path)[1], path)

    proc = subprocess.run(args, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    self.assertEqual(proc.returncode, 0, proc.stdout)
    shards = tfrecords.shards(out, 'train') + tfrecords.shards(
        out, 'validation')
    self.assertEqual(len(shards), 25)
    self.assertEqual(sum(tfrecords.scan_shard(p)[0] for p in shards), 240)
    self.assertEqual([p for p in os.listdir(out)
                      if tfrecords.TEMP_MARKER in p and
                      not p.startswith('.')], [])
    self.assertEqual(len(_records(shards)), 240)

  def test_bad_flags_fail_in_one_line_before_any_work(self):
    # In-process, as console_main runs main after absl's parser.
    flags_lib.define_build_tfrecords_flags()
    root = self.get_temp_dir()
    output_dir = os.path.join(root, 'never')
    for args, name in ((['--output_dir', output_dir], '--input_dir'),
                       (['--input_dir', root, '--output_dir', output_dir,
                         '--train_shards', '0'], '--train_shards')):
      stderr = io.StringIO()
      with flagsaver.flagsaver(), contextlib.redirect_stderr(stderr):
        argv = FLAGS(['alexnet_estimator.build_tfrecords'] + args)
        with self.assertRaises(SystemExit) as caught:
          build_tfrecords.main(argv)
      self.assertEqual(caught.exception.code, 2, stderr.getvalue())
      lines = stderr.getvalue().strip().splitlines()
      self.assertEqual(len(lines), 1, stderr.getvalue())
      self.assertIn(name, lines[0])
      self.assertFalse(os.path.exists(output_dir), args)

  @pytest.mark.slow
  def test_bad_input_dir_fails_in_one_line_in_a_subprocess(self):
    # The entry point's one-line stderr contract, end to end.
    output_dir = os.path.join(self.get_temp_dir(), 'never')
    proc = subprocess.run(
        [sys.executable, '-m', 'alexnet_estimator.build_tfrecords',
         '--input_dir', '/nonexistent', '--output_dir', output_dir],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True)
    self.assertNotEqual(proc.returncode, 0)
    lines = proc.stderr.strip().splitlines()
    self.assertEqual(len(lines), 1, proc.stderr)
    self.assertIn('/nonexistent', lines[0])
    self.assertFalse(os.path.exists(output_dir))



def _texts(paths):
  """{filename: (label, synset, text)} of the records of `paths`."""
  out = {}
  for path in paths:
    for record in tf.compat.v1.io.tf_record_iterator(path):
      feature = tf.train.Example.FromString(record).features.feature
      out[feature['image/filename'].bytes_list.value[0].decode()] = (
          feature['image/class/label'].int64_list.value[0],
          feature['image/class/synset'].bytes_list.value[0].decode(),
          feature['image/class/text'].bytes_list.value[0].decode())
  return out


class RawImagenetTreeTest(tf.test.TestCase):
  """ImageNet as downloaded: train/<synset>/*.JPEG, a flat validation/."""

  def _tree(self, root):
    tree = os.path.join(root, 'ILSVRC2012')
    red, green = helpers.solid((220, 30, 30)), helpers.solid((30, 200, 40))
    for name, data in (('n01440764_1.JPEG', helpers.encode(red)),
                       ('n01440764_2.JPEG', helpers.encode(red, 'CMYK')),
                       ('n01440764_3.JPEG', helpers.encode(red, 'RGB',
                                                           'PNG'))):
      helpers.write(os.path.join(tree, 'train', 'n01440764', name), data)
    for i in range(2):
      helpers.write(os.path.join(tree, 'train', 'n01443537',
                                 'n01443537_%d.JPEG' % i),
                    helpers.encode(green))
    synsets = ['n01443537', 'n01440764', 'n01443537', 'n01440764']
    for i, synset in enumerate(synsets):
      helpers.write(os.path.join(tree, 'validation',
                                 'ILSVRC2012_val_%08d.JPEG' % (i + 1)),
                    helpers.encode(green if synset == 'n01443537' else red))
    labels = helpers.write(os.path.join(root, 'val_labels.txt'),
                           ('\n'.join(synsets) + '\n').encode())
    return tree, labels

  def test_flat_validation_with_its_labels_is_converted(self):
    # Issue 13, case 5: this wrote 0 validation records, silently.
    root = self.get_temp_dir()
    tree, labels = self._tree(root)
    out = os.path.join(root, 'out')
    info = build_tfrecords.convert(tree, out, 2, 1, num_workers=1,
                                   out=io.StringIO(),
                                   validation_labels=labels)
    self.assertEqual(info['num_records'], {'train': 5, 'validation': 4})
    self.assertEqual(sum(info['shard_records'].values()), 9)
    validation = _texts(tfrecords.shards(out, 'validation'))
    self.assertEqual(validation['ILSVRC2012_val_00000001.JPEG'],
                     (2, 'n01443537', 'goldfish, Carassius auratus'))
    self.assertEqual(validation['ILSVRC2012_val_00000002.JPEG'],
                     (1, 'n01440764', 'tench, Tinca tinca'))
    train = _texts(tfrecords.shards(out, 'train'))
    self.assertEqual(len(train), 5)  # the CMYK JPEG and the PNG too
    self.assertEqual(train['n01440764_3.JPEG'][2], 'tench, Tinca tinca')
    described = tfrecords.describe(out)
    self.assertEqual(described.class_names, ('n01440764', 'n01443537'))
    self.assertEqual(described.shard_records[
        tfrecords.shards(out, 'validation')[0]], 4)

  def test_flat_validation_without_labels_is_refused_before_any_write(self):
    root = self.get_temp_dir()
    tree, labels = self._tree(root)
    out = os.path.join(root, 'never')
    with self.assertRaisesRegex(errors.UsageError,
                                r'validation.*--validation_labels FILE'):
      build_tfrecords.convert(tree, out, out=io.StringIO())
    with open(labels, 'a') as f:
      f.write('n01440764\n')
    with self.assertRaisesRegex(errors.DataError, r'5 labels for the 4'):
      build_tfrecords.convert(tree, out, out=io.StringIO(),
                              validation_labels=labels)
    self.assertFalse(os.path.exists(out))

  def test_the_command_line_takes_the_labels_and_refuses_without(self):
    flags_lib.define_build_tfrecords_flags()
    root = self.get_temp_dir()
    tree, labels = self._tree(root)
    metadata = helpers.write(os.path.join(root, 'metadata.txt'),
                             b'n01440764\ta fish\n')
    out = os.path.join(root, 'out')
    for extra, code in (([], 2), (['--validation_labels', labels,
                                   '--metadata_file', metadata,
                                   '--num_workers', '1'], None)):
      stderr = io.StringIO()
      with flagsaver.flagsaver(), contextlib.redirect_stderr(stderr):
        argv = FLAGS(['alexnet_estimator.build_tfrecords', '--input_dir',
                      tree, '--output_dir', out] + extra)
        if code is None:
          build_tfrecords.main(argv)
          continue
        with self.assertRaises(SystemExit) as caught:
          build_tfrecords.main(argv)
      self.assertEqual(caught.exception.code, code, stderr.getvalue())
      lines = stderr.getvalue().strip().splitlines()
      self.assertEqual(len(lines), 1, stderr.getvalue())
      self.assertIn('--validation_labels', lines[0])
      self.assertFalse(os.path.exists(out))
    texts = {v[1]: v[2] for v in _texts(
        tfrecords.shards(out, 'validation')).values()}
    self.assertEqual(texts, {'n01440764': 'a fish',
                             'n01443537': 'goldfish, Carassius auratus'})

  def test_metadata_file_names_the_classes(self):
    root = self.get_temp_dir()
    tree = os.path.join(root, 'tree')
    helpers.make_tree(tree, classes=('cat', 'n99999999'), train_per_class=1,
                      validation_per_class=1)
    metadata = helpers.write(os.path.join(root, 'metadata.txt'),
                             b'n99999999\tan odd thing, oddity\n')
    out = os.path.join(root, 'out')
    build_tfrecords.convert(tree, out, 1, 1, num_workers=1,
                            out=io.StringIO(), metadata_file=metadata)
    texts = {v[1]: v[2] for v in _texts(
        tfrecords.shards(out, 'train')).values()}
    self.assertEqual(texts, {'cat': 'cat',
                             'n99999999': 'an odd thing, oddity'})


class LockTest(tf.test.TestCase):

  def test_a_second_converter_on_the_same_output_dir_is_refused(self):
    # Issue 13, case 7: two converters removed each other's temporary files.
    root = self.get_temp_dir()
    tree = os.path.join(root, 'tree')
    helpers.make_tree(tree, classes=('cat', 'dog'), train_per_class=1,
                      validation_per_class=1)
    out = os.path.join(root, 'out')
    os.makedirs(out)
    # The first converter's shard, half written.
    temp = os.path.join(out, 'train-00000-of-00001%s-999' %
                        tfrecords.TEMP_MARKER)
    helpers.write(temp, b'half a shard')
    with build_tfrecords.lock_output_dir(out):
      with self.assertRaisesRegex(
          errors.TFRecordError,
          r'--output_dir %s is being written by another build_tfrecords '
          r'\(pid %d\)' % (out, os.getpid())):
        build_tfrecords.convert(tree, out, 1, 1, num_workers=1,
                                out=io.StringIO())
      self.assertTrue(os.path.exists(temp))
    info = build_tfrecords.convert(tree, out, 1, 1, num_workers=1,
                                   out=io.StringIO())
    self.assertEqual(info['num_records'], {'train': 2, 'validation': 2})
    self.assertFalse(os.path.exists(temp))  # a dead run's leftover


if __name__ == '__main__':
  tf.test.main()
