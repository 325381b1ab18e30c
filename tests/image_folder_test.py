"""Tests for finding and splitting class-per-folder image trees."""
import os

import tensorflow as tf

from alexnet_estimator import image_folder
from tests import testdata


class FindTest(tf.test.TestCase):

  def test_split_layout_labels_are_sorted_folder_indices(self):
    for validation_dir in ('validation', 'val'):
      root = os.path.join(self.get_temp_dir(), validation_dir)
      written = testdata.make_tree(root, classes=('zebra', 'ant', 'moth'),
                                   train_per_class=2, validation_per_class=1,
                                   validation_dir=validation_dir)
      data = image_folder.find(root)
      self.assertEqual(data.layout, 'split')
      self.assertEqual(data.class_names, ('ant', 'moth', 'zebra'))
      names = ('zebra', 'ant', 'moth')
      for split, found in (('train', data.train),
                           ('validation', data.validation)):
        expected = sorted((p, data.class_names.index(names[i]))
                          for p, i in written[split])
        self.assertEqual(sorted(zip(found.files, found.labels)), expected)

  def test_classes_layout_split_is_deterministic_and_stable(self):
    root = self.get_temp_dir()
    testdata.make_tree(root, layout='classes', classes=('a', 'b'),
                       train_per_class=40)
    first = image_folder.find(root, validation_percent=25)
    self.assertEqual(first.layout, 'classes')
    self.assertEqual(first, image_folder.find(root, validation_percent=25))
    held = set(first.validation.files)
    self.assertBetween(len(held), 8, 32)  # about a quarter of 80
    self.assertFalse(held & set(first.train.files))
    self.assertEqual(len(held) + len(first.train.files), 80)
    # New files never move existing ones between the sides.
    for i in range(20):
      testdata.write(os.path.join(root, 'a', 'new_%02d.png' % i),
                     testdata.encode(testdata.solid((1, 2, 3)), 'RGB', 'PNG'))
    grown = image_folder.find(root, validation_percent=25)
    self.assertTrue(held <= set(grown.validation.files))
    self.assertTrue(set(first.train.files) <= set(grown.train.files))
    none_held = image_folder.find(root, validation_percent=0)
    self.assertEqual(none_held.validation.files, [])

  def test_hidden_entries_are_ignored(self):
    root = self.get_temp_dir()
    testdata.make_tree(root, classes=('a', 'b'), train_per_class=1)
    testdata.write(os.path.join(root, 'train', 'a', '.DS_Store'), b'x')
    testdata.write(os.path.join(root, 'train', '.cache', 'x.jpg'), b'x')
    data = image_folder.find(root)
    self.assertEqual(data.class_names, ('a', 'b'))
    self.assertEqual(len(data.train.files), 2)

  def assertDataError(self, root, path_in_message):
    with self.assertRaises(image_folder.DataError) as caught:
      image_folder.find(root)
    self.assertIn(path_in_message, str(caught.exception))

  def test_errors_name_the_path(self):
    base = self.get_temp_dir()
    missing = os.path.join(base, 'missing')
    self.assertDataError(missing, missing)
    empty = os.path.join(base, 'empty')
    os.makedirs(empty)
    self.assertDataError(empty, empty)
    imageless = os.path.join(base, 'imageless')
    testdata.make_tree(imageless, layout='classes', classes=('a',))
    testdata.write(os.path.join(imageless, 'b', 'readme.txt'), b'hello')
    self.assertDataError(imageless, os.path.join(imageless, 'b'))
    extra = os.path.join(base, 'extra')
    testdata.make_tree(extra, classes=('a', 'b'))
    testdata.write(os.path.join(extra, 'validation', 'c', 'x.png'),
                   testdata.encode(testdata.solid((1, 2, 3)), 'RGB', 'PNG'))
    self.assertDataError(extra, "'c'")
    orphan = os.path.join(base, 'orphan')
    testdata.write(os.path.join(orphan, 'validation', 'a', 'x.png'),
                   testdata.encode(testdata.solid((1, 2, 3)), 'RGB', 'PNG'))
    self.assertDataError(orphan, orphan)


class ExpandPathsTest(tf.test.TestCase):

  def test_keeps_order_and_lists_folders_sorted(self):
    root = self.get_temp_dir()
    written = testdata.make_tree(root, layout='classes', classes=('a', 'b'),
                                 train_per_class=3)
    files = [p for p, _ in written['train']]
    single = files[4]
    got = image_folder.expand_paths([single, os.path.join(root, 'a')])
    self.assertEqual(got, [single] + sorted(files[:3]))
    with self.assertRaisesRegex(image_folder.DataError, 'nope.jpg'):
      image_folder.expand_paths([single, os.path.join(root, 'nope.jpg')])

  def test_looks_like_image(self):
    root = self.get_temp_dir()
    png = testdata.write(os.path.join(root, 'x.jpg'), testdata.encode(
        testdata.solid((1, 2, 3)), 'RGB', 'PNG'))
    text = testdata.write(os.path.join(root, 'y.jpg'), b'hello')
    self.assertTrue(image_folder.looks_like_image(png))
    self.assertFalse(image_folder.looks_like_image(text))
    self.assertFalse(image_folder.looks_like_image(os.path.join(root, 'z')))


if __name__ == '__main__':
  tf.test.main()
