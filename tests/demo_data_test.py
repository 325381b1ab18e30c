"""Tests of demo_data.py (scripts/make_demo_data.py): deterministic, varied,
all readable."""
import io
import os
import random
import sys
from unittest import mock

import numpy as np
from PIL import Image
import tensorflow as tf

from alexnet_estimator import demo_data
from alexnet_estimator import image_folder
from alexnet_estimator import preprocessing

CORRUPT = os.path.join('train', demo_data.CLASSES[0], 'corrupt.jpg')


def _contents(root):
  """{path relative to root: bytes} of every file below `root`."""
  out = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, root)] = f.read()
  return out


class MakeDemoDataTest(tf.test.TestCase):

  def _make(self, name, seed):
    root = os.path.join(self.get_temp_dir(), name)
    count = demo_data.write(root, train_per_class=4, validation_per_class=1,
                            seed=seed)
    contents = _contents(root)
    self.assertEqual(count, len(contents))
    return root, contents

  def test_same_seed_same_bytes_other_seed_other_bytes(self):
    _, one = self._make('one', 0)
    _, two = self._make('two', 0)
    _, three = self._make('three', 1)
    self.assertEqual(one, two)
    self.assertNotEqual(one, three)
    different = [k for k in one if one[k] != three.get(k)]
    self.assertGreater(len(different), len(one) // 2)

  def test_layout_classes_and_counts(self):
    root, contents = self._make('tree', 0)
    self.assertEqual(sorted(os.listdir(root)), ['train', 'validation'])
    classes = sorted(demo_data.CLASSES)
    self.assertLen(classes, 5)
    for split, per_class in (('train', 4), ('validation', 1)):
      self.assertEqual(sorted(os.listdir(os.path.join(root, split))),
                       classes)
      for name in classes:
        extra = 1 if os.path.join(split, name) == os.path.dirname(
            CORRUPT) else 0
        self.assertLen(os.listdir(os.path.join(root, split, name)),
                       per_class + extra, msg=os.path.join(split, name))
    self.assertLen(contents, 5 * 4 + 5 * 1 + 1)
    # The package reads it as the split layout with the same classes.
    data = image_folder.find(root)
    self.assertEqual(data.layout, 'split')
    self.assertEqual(data.class_names, tuple(classes))
    self.assertLen(data.train.files, 21)
    self.assertLen(data.validation.files, 5)

  def test_corrupt_file_fails_and_every_other_file_decodes(self):
    _, contents = self._make('decode', 0)
    self.assertIn(CORRUPT, contents)
    data = tf.placeholder(tf.string, [])
    decoded = preprocessing.decode_image(data)
    with self.cached_session() as sess:
      with self.assertRaises(tf.errors.InvalidArgumentError):
        sess.run(decoded, {data: contents[CORRUPT]})
      for name, content in sorted(contents.items()):
        if name == CORRUPT:
          continue
        image = sess.run(decoded, {data: content})
        width, height = Image.open(io.BytesIO(content)).size
        self.assertAllEqual(image.shape, [height, width, 3], msg=name)
        self.assertBetween(width, 96, 320)
        self.assertBetween(height, 96, 320)

  def test_every_format_of_the_demo_decodes_like_pillow_reads_it(self):
    formats = sorted(set(demo_data._FORMAT_CHOICES))
    self.assertLen(formats, 8)
    data = tf.placeholder(tf.string, [])
    decoded = preprocessing.decode_image(data)
    rng = random.Random(0)
    with self.cached_session() as sess:
      for i, (mode, fmt, ext) in enumerate(formats):
        kind = demo_data.CLASSES[i % len(demo_data.CLASSES)]
        content = demo_data.encode(demo_data.draw(kind, rng), mode, fmt)
        expected = np.asarray(
            Image.open(io.BytesIO(content)).convert('RGB'), np.float32)
        image = sess.run(decoded, {data: content})
        self.assertAllEqual(image.shape, expected.shape)
        # JPEG decoders differ by a level or two; the others are lossless.
        error = np.abs(image.astype(np.float32) - expected).mean()
        self.assertLess(error, 3.0, msg='%s %s %s' % (mode, fmt, ext))

  def test_main_writes_the_tree(self):
    root = os.path.join(self.get_temp_dir(), 'cli')
    argv = ['make_demo_data.py', '--out_dir', root, '--train_per_class', '1',
            '--validation_per_class', '1', '--seed', '3']
    with mock.patch.object(sys, 'argv', argv):
      demo_data.main()
    same = os.path.join(self.get_temp_dir(), 'same')
    self.assertEqual(demo_data.write(same, 1, 1, 3), 11)
    self.assertLen(_contents(root), 11)
    self.assertEqual(_contents(root), _contents(same))


if __name__ == '__main__':
  tf.test.main()
