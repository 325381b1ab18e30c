"""Tests for finding and splitting class-per-folder image trees."""
import os
import shutil

from absl.testing import parameterized
import tensorflow as tf

from alexnet_estimator import image_folder
from tests import helpers


def _png():
  return helpers.encode(helpers.solid((1, 2, 3), (4, 4)), 'RGB', 'PNG')


def _relative(files, root):
  return sorted(os.path.relpath(f, root) for f in files)


class FindSplitLayoutTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters('validation', 'val')
  def test_files_and_labels_are_sorted_folder_indices(self, validation_dir):
    root = self.get_temp_dir()
    classes = ('zebra', 'ant', 'moth')
    written = helpers.make_tree(root, classes=classes, train_per_class=2,
                                validation_per_class=1,
                                validation_dir=validation_dir)
    data = image_folder.find(root)
    self.assertEqual(data.layout, 'split')
    self.assertEqual(data.class_names, ('ant', 'moth', 'zebra'))
    for split, found in (('train', data.train),
                         ('validation', data.validation)):
      expected = sorted((p, data.class_names.index(classes[i]))
                        for p, i in written[split])
      self.assertEqual(sorted(zip(found.files, found.labels)), expected)
      # Each label is the index of the folder the file is in.
      for path, label in zip(found.files, found.labels):
        self.assertEqual(os.path.basename(os.path.dirname(path)),
                         data.class_names[label])
    self.assertLen(data.train.files, 6)
    self.assertLen(data.validation.files, 3)

  def test_validation_may_lack_classes(self):
    root = self.get_temp_dir()
    helpers.make_tree(root, classes=('a', 'b', 'c'), validation_per_class=0)
    only_c = helpers.write(os.path.join(root, 'validation', 'c', 'x.png'),
                           _png())
    data = image_folder.find(root)
    self.assertEqual(data.class_names, ('a', 'b', 'c'))
    self.assertEqual(data.validation.files, [only_c])
    self.assertEqual(data.validation.labels, [2])

  def test_no_validation_folder_uses_the_hash_split_of_train(self):
    root = self.get_temp_dir()
    helpers.make_tree(root, classes=('a', 'b'), train_per_class=20)
    shutil.rmtree(os.path.join(root, 'validation'))
    data = image_folder.find(root, validation_percent=50)
    train_root = os.path.join(root, 'train')
    self.assertEqual(data.layout, 'split')
    everything = data.train.files + data.validation.files
    self.assertLen(everything, 40)
    for path in everything:
      self.assertEqual(
          path in data.validation.files,
          image_folder.in_validation(os.path.relpath(path, train_root), 50))

  def test_files_are_listed_by_content_recursively_and_sorted(self):
    root = self.get_temp_dir()
    helpers.make_tree(root, classes=('a',), train_per_class=1,
                      validation_per_class=0)
    folder = os.path.join(root, 'train', 'a')
    notes = helpers.write(os.path.join(folder, 'notes.txt'), b'text')
    nested = helpers.write(os.path.join(folder, 'sub', 'deep.png'), _png())
    data = image_folder.find(root)
    # Not filtered by extension: a file that does not decode is skipped later.
    jpeg = os.path.join(folder, 'train_a_00.jpg')
    # A folder's own files, sorted, then its subfolders'.
    self.assertEqual(data.train.files, [notes, jpeg, nested])
    self.assertEqual(data.train.labels, [0, 0, 0])


class FindErrorsTest(tf.test.TestCase):

  def test_missing_and_empty_trees_are_named_by_the_callers_flag(self):
    missing = os.path.join(self.get_temp_dir(), 'missing')
    with self.assertRaisesRegex(image_folder.DataError,
                                '^--data_dir .*missing: no such directory'):
      image_folder.find(missing)
    with self.assertRaisesRegex(image_folder.DataError,
                                '^--input_dir .* has no class folders'):
      image_folder.find(self.get_temp_dir(), flag='--input_dir')


class FindClassesLayoutTest(tf.test.TestCase):

  def setUp(self):
    super(FindClassesLayoutTest, self).setUp()
    self.root = os.path.join(self.get_temp_dir(), 'data')
    self.written = helpers.make_tree(self.root, layout='classes',
                                     classes=('b', 'a'), train_per_class=40)

  def test_labels_follow_sorted_class_names(self):
    data = image_folder.find(self.root, validation_percent=25)
    self.assertEqual(data.layout, 'classes')
    self.assertEqual(data.class_names, ('a', 'b'))
    expected = sorted((p, 1 - i) for p, i in self.written['train'])
    found = sorted(
        list(zip(data.train.files, data.train.labels)) +
        list(zip(data.validation.files, data.validation.labels)))
    self.assertEqual(found, expected)

  def test_split_is_a_deterministic_partition(self):
    first = image_folder.find(self.root, validation_percent=25)
    self.assertEqual(first, image_folder.find(self.root,
                                              validation_percent=25))
    held = set(first.validation.files)
    self.assertBetween(len(held), 8, 32)  # about a quarter of 80
    self.assertFalse(held & set(first.train.files))
    self.assertLen(held | set(first.train.files), 80)
    for path in first.train.files + first.validation.files:
      self.assertEqual(path in held, image_folder.in_validation(
          os.path.relpath(path, self.root), 25))

  def test_split_depends_only_on_the_relative_path(self):
    first = image_folder.find(self.root, validation_percent=25)
    moved = os.path.join(self.get_temp_dir(), 'elsewhere', 'copy')
    shutil.copytree(self.root, moved)
    second = image_folder.find(moved + os.sep, validation_percent=25)
    self.assertEqual(_relative(second.validation.files, moved),
                     _relative(first.validation.files, self.root))
    self.assertEqual(_relative(second.train.files, moved),
                     _relative(first.train.files, self.root))

  def test_added_files_never_move_existing_ones(self):
    first = image_folder.find(self.root, validation_percent=25)
    for i in range(30):
      helpers.write(os.path.join(self.root, 'a' if i % 2 else 'b',
                                 'new_%02d.png' % i), _png())
    grown = image_folder.find(self.root, validation_percent=25)
    self.assertLen(grown.train.files + grown.validation.files, 110)
    self.assertContainsSubset(first.validation.files, grown.validation.files)
    self.assertContainsSubset(first.train.files, grown.train.files)

  def test_larger_percent_only_moves_files_into_validation(self):
    small = image_folder.find(self.root, validation_percent=10)
    large = image_folder.find(self.root, validation_percent=60)
    self.assertContainsSubset(small.validation.files, large.validation.files)
    self.assertGreater(len(large.validation.files),
                       len(small.validation.files))

  def test_zero_percent_gives_an_empty_validation(self):
    data = image_folder.find(self.root, validation_percent=0)
    self.assertEqual(data.validation.files, [])
    self.assertEqual(data.validation.labels, [])
    self.assertLen(data.train.files, 80)


class InValidationTest(tf.test.TestCase):

  def test_separator_does_not_matter(self):
    for i in range(50):
      name = 'cls/img_%d.jpg' % i
      self.assertEqual(image_folder.in_validation(name, 30),
                       image_folder.in_validation(
                           name.replace('/', os.sep), 30))

  def test_share_is_close_to_the_percent(self):
    names = ['c/%05d.jpg' % i for i in range(2000)]
    held = sum(image_folder.in_validation(n, 20) for n in names)
    self.assertBetween(held, 300, 500)
    self.assertEqual(sum(image_folder.in_validation(n, 0) for n in names), 0)


class HiddenEntriesTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters('split', 'classes')
  def test_hidden_files_and_folders_are_ignored(self, layout):
    root = self.get_temp_dir()
    written = helpers.make_tree(root, layout=layout, classes=('a', 'b'),
                                train_per_class=2)
    classes_root = os.path.join(root, 'train') if layout == 'split' else root
    helpers.write(os.path.join(classes_root, 'a', '.DS_Store'), b'x')
    helpers.write(os.path.join(classes_root, 'a', '.sub', 'x.png'), _png())
    helpers.write(os.path.join(classes_root, '.cache', 'x.png'), _png())
    helpers.write(os.path.join(root, '.git', 'x.png'), _png())
    data = image_folder.find(root, validation_percent=0)
    self.assertEqual(data.class_names, ('a', 'b'))
    self.assertEqual(sorted(data.train.files),
                     [p for p, _ in written['train']])


class FindErrorTest(tf.test.TestCase):

  def assertDataError(self, root, *in_message):
    with self.assertRaises(image_folder.DataError) as caught:
      image_folder.find(root)
    for text in in_message:
      self.assertIn(text, str(caught.exception))

  def test_missing_folder(self):
    missing = os.path.join(self.get_temp_dir(), 'missing')
    self.assertDataError(missing, missing)

  def test_a_file_is_not_a_folder(self):
    path = helpers.write(os.path.join(self.get_temp_dir(), 'x.png'), _png())
    self.assertDataError(path, path)

  def test_empty_folder(self):
    empty = os.path.join(self.get_temp_dir(), 'empty')
    os.makedirs(empty)
    helpers.write(os.path.join(empty, 'loose.png'), _png())  # no class dir
    self.assertDataError(empty, empty)

  def test_only_hidden_folders(self):
    root = os.path.join(self.get_temp_dir(), 'hidden')
    helpers.write(os.path.join(root, '.a', 'x.png'), _png())
    self.assertDataError(root, root)

  def test_class_folder_without_images(self):
    root = os.path.join(self.get_temp_dir(), 'imageless')
    helpers.make_tree(root, layout='classes', classes=('a',))
    helpers.write(os.path.join(root, 'b', 'readme.txt'), b'hello')
    self.assertDataError(root, os.path.join(root, 'b'))

  def test_empty_class_folder_in_train(self):
    root = os.path.join(self.get_temp_dir(), 'split')
    helpers.make_tree(root, classes=('a',))
    os.makedirs(os.path.join(root, 'train', 'b'))
    self.assertDataError(root, os.path.join(root, 'train', 'b'))

  def test_train_without_class_folders(self):
    root = os.path.join(self.get_temp_dir(), 'flat')
    helpers.write(os.path.join(root, 'train', 'x.png'), _png())
    self.assertDataError(root, os.path.join(root, 'train'))

  def test_validation_class_not_in_train(self):
    root = os.path.join(self.get_temp_dir(), 'extra')
    helpers.make_tree(root, classes=('a', 'b'))
    helpers.write(os.path.join(root, 'validation', 'c', 'x.png'), _png())
    self.assertDataError(root, os.path.join(root, 'validation'), "'c'")

  def test_validation_without_train(self):
    for name in ('validation', 'val'):
      root = os.path.join(self.get_temp_dir(), 'orphan_' + name)
      helpers.write(os.path.join(root, name, 'a', 'x.png'), _png())
      helpers.write(os.path.join(root, 'b', 'x.png'), _png())
      self.assertDataError(root, root, 'train')

  def test_data_error_is_a_value_error(self):
    self.assertTrue(issubclass(image_folder.DataError, ValueError))


class ExpandPathsTest(tf.test.TestCase):

  def setUp(self):
    super(ExpandPathsTest, self).setUp()
    self.root = self.get_temp_dir()
    written = helpers.make_tree(self.root, layout='classes',
                                classes=('a', 'b'), train_per_class=3)
    self.files = [p for p, _ in written['train']]

  def test_keeps_order_and_lists_folders_sorted(self):
    last, first = self.files[4], self.files[1]
    folder = os.path.join(self.root, 'a')
    helpers.write(os.path.join(folder, 'deeper', 'z.png'), _png())
    helpers.write(os.path.join(folder, '.hidden.png'), _png())
    got = image_folder.expand_paths([last, folder, first])
    self.assertEqual(got, [last] + sorted(self.files[:3]) +
                     [os.path.join(folder, 'deeper', 'z.png'), first])

  def test_duplicates_and_empty_input(self):
    self.assertEqual(image_folder.expand_paths([]), [])
    self.assertEqual(image_folder.expand_paths(self.files[:1] * 2),
                     self.files[:1] * 2)

  def test_missing_path_raises_naming_it(self):
    missing = os.path.join(self.root, 'nope.jpg')
    with self.assertRaises(image_folder.DataError) as caught:
      image_folder.expand_paths([self.files[0], missing])
    self.assertIn(missing, str(caught.exception))


class LooksLikeImageTest(tf.test.TestCase):

  def test_signatures_not_extensions(self):
    root = self.get_temp_dir()
    array = helpers.solid((10, 20, 30), (8, 8))
    images = {'png.jpg': helpers.encode(array, 'RGB', 'PNG'),
              'jpeg.png': helpers.encode(array, 'RGB', 'JPEG'),
              'gif89': helpers.encode(array, 'P', 'GIF'),
              'gif87.txt': b'GIF87a' + b'\0' * 20,
              'bmp.gif': helpers.encode(array, 'RGB', 'BMP'),
              'truncated.jpg': helpers.truncated_jpeg()}
    for name, data in images.items():
      path = helpers.write(os.path.join(root, name), data)
      self.assertTrue(image_folder.looks_like_image(path), msg=name)
    others = {'text.jpg': helpers.text_bytes(), 'empty.png': b'',
              'short.png': b'\x89PN',
              'tiff.jpg': helpers.encode(array, 'RGB', 'TIFF')}
    for name, data in others.items():
      path = helpers.write(os.path.join(root, name), data)
      self.assertFalse(image_folder.looks_like_image(path), msg=name)

  def test_missing_file_or_folder_is_not_an_image(self):
    root = self.get_temp_dir()
    self.assertFalse(image_folder.looks_like_image(
        os.path.join(root, 'missing.png')))
    self.assertFalse(image_folder.looks_like_image(root))


if __name__ == '__main__':
  tf.test.main()
