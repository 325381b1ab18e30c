"""Tests for finding and splitting class-per-folder image trees."""
import os
import shutil
import tempfile

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



def _scratch(test):
  """A new folder under test's temp dir, deleted, links and all, at its end.

  TensorFlow's own clean-up of the temp dir, at exit, follows links: a loop
  left there would never end.
  """
  folder = tempfile.mkdtemp(dir=test.get_temp_dir())
  test.addCleanup(shutil.rmtree, folder, ignore_errors=True)
  return folder


def _link(target, path):
  """Makes the symbolic link `path` -> `target` (relative to path's folder)."""
  folder = os.path.dirname(path)
  if not os.path.isdir(folder):
    os.makedirs(folder)
  os.symlink(target, path)
  return path


def _all_files(data):
  return data.train.files + data.validation.files


def _labelled(data):
  return (list(zip(data.train.files, data.train.labels)) +
          list(zip(data.validation.files, data.validation.labels)))


class LinksTest(tf.test.TestCase, parameterized.TestCase):
  """Every real folder read once, every real file once, in its own class."""

  def setUp(self):
    super(LinksTest, self).setUp()
    self.base = _scratch(self)
    self.root = os.path.join(self.base, 'data')
    self.written = helpers.make_tree(
        self.root, layout='classes', classes=('red', 'green', 'blue'),
        train_per_class=10)
    self.paths = sorted(p for p, _ in self.written['train'])

  def assertEachFileOnceInItsClass(self, data, expected=None):
    files = _all_files(data)
    self.assertEqual(sorted(files), expected or self.paths)
    for path, label in _labelled(data):
      self.assertIn(os.sep + data.class_names[label] + os.sep,
                    os.path.realpath(path))

  def test_a_loop_is_read_once(self):
    # Once 378 files from 30: blue/loop/loop/... until ELOOP.
    _link('.', os.path.join(self.root, 'blue', 'loop'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root, validation_percent=30)
    self.assertEachFileOnceInItsClass(data)
    self.assertFalse(set(data.train.files) & set(data.validation.files))
    self.assertIn(os.path.join(self.root, 'blue', 'loop'), logs.output[0])
    self.assertIn('a loop', logs.output[0])
    self.assertEqual(data.unreadable, [])

  @parameterized.parameters(('blue', '..'), ('green/sub', '../..'))
  def test_a_link_to_a_parent_mislabels_nothing(self, folder, target):
    # Once: the red and green images labelled blue as well.
    link = _link(target, os.path.join(self.root, folder, 'parent'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root)
    self.assertEachFileOnceInItsClass(data)
    self.assertLen(logs.output, 1)
    self.assertIn('Not following %s: it links to %s, which holds the link'
                  % (link, self.root), logs.output[0])

  def test_a_link_into_another_class_is_not_followed(self):
    _link(os.path.join('..', 'red'), os.path.join(self.root, 'blue', 'reds'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root)
    self.assertEachFileOnceInItsClass(data)
    self.assertIn('which is read as part of %s' % os.path.join(
        self.root, 'red'), logs.output[0])

  def test_a_linked_file_counts_once_where_it_lies(self):
    red = [p for p in self.paths if os.sep + 'red' + os.sep in p]
    blue = os.path.join(self.root, 'blue')
    # 'a...' sorts first, and blue before red: found through the links first.
    _link(os.path.join('..', 'red', os.path.basename(red[0])),
          os.path.join(blue, 'a_red.jpg'))
    _link(os.path.basename(self.paths[0]), os.path.join(blue, 'a_self.jpg'))
    os.link(red[1], os.path.join(self.root, 'red', 'z_hard.png'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root)
    self.assertEachFileOnceInItsClass(data)
    self.assertLen(logs.output, 3)
    self.assertIn('the same file as', logs.output[0])

  def test_hard_links_in_two_classes_count_once(self):
    red = [p for p in self.paths if os.sep + 'red' + os.sep in p]
    twin = os.path.join(self.root, 'blue', 'twin.png')
    os.link(red[0], twin)
    with self.assertLogs('absl', 'WARNING'):
      data = image_folder.find(self.root)
    files = _all_files(data)
    self.assertLen(files, 30)
    self.assertEqual(len(set(files) & {twin, red[0]}), 1)

  def test_a_folder_outside_the_tree_is_read_once(self):
    outside = os.path.join(self.base, 'more_blue')
    extra = helpers.write_image(os.path.join(outside, 'extra.png'),
                                helpers.solid(helpers.COLOURS[2]))
    _link(outside, os.path.join(self.root, 'blue', 'more'))
    _link(outside, os.path.join(self.root, 'red', 'more'))
    _link(os.path.join('..', '..', 'data', 'blue'),
          os.path.join(outside, 'back'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root)
    files = _all_files(data)
    self.assertLen(files, 31)
    linked = os.path.join(self.root, 'blue', 'more', 'extra.png')
    self.assertIn(linked, files)
    self.assertEqual(dict(_labelled(data))[linked],
                     data.class_names.index('blue'))
    self.assertTrue(os.path.samefile(linked, extra))
    self.assertLen(logs.output, 2)  # red/more and more_blue/back

  def test_split_layout_links_cannot_mix_the_splits(self):
    root = os.path.join(self.base, 'split')
    written = helpers.make_tree(root, classes=('a', 'b'), train_per_class=3,
                                validation_per_class=2)
    _link(os.path.join('..', '..', 'validation', 'a'),
          os.path.join(root, 'train', 'a', 'held'))
    _link(os.path.join('..', '..', 'train'),
          os.path.join(root, 'validation', 'b', 'train'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(root)
    self.assertEqual(sorted(data.train.files),
                     [p for p, _ in written['train']])
    self.assertEqual(sorted(data.validation.files),
                     [p for p, _ in written['validation']])
    self.assertLen(logs.output, 2)

  @parameterized.named_parameters(
      ('same', 'red', 'red_again'), ('parent', '.', 'everything'))
  def test_class_folders_that_are_one_folder_are_refused(self, target, name):
    _link(target, os.path.join(self.root, name))
    with self.assertRaises(image_folder.DataError) as caught:
      image_folder.find(self.root)
    message = str(caught.exception)
    self.assertIn(os.path.join(self.root, name), message)
    self.assertIn('remove the link', message)

  def test_a_validation_folder_linked_to_train_is_refused(self):
    root = os.path.join(self.base, 'split')
    helpers.make_tree(root, classes=('a', 'b'), validation_per_class=0)
    _link('train', os.path.join(root, 'validation'))
    with self.assertRaisesRegex(image_folder.DataError,
                                'train/a and .*validation/a are the same'):
      image_folder.find(root)

  def test_expand_paths_reads_a_loop_once(self):
    blue = os.path.join(self.root, 'blue')
    _link('.', os.path.join(blue, 'loop'))
    with self.assertLogs('absl', 'WARNING'):
      files = image_folder.expand_paths([blue])
    self.assertEqual(
        files, [p for p in self.paths if os.sep + 'blue' + os.sep in p])


class UnreadableTest(tf.test.TestCase, parameterized.TestCase):
  """What cannot be read is named once and listed, never silently dropped."""

  def setUp(self):
    super(UnreadableTest, self).setUp()
    self.root = os.path.join(_scratch(self), 'data')
    self.written = helpers.make_tree(self.root, layout='classes',
                                     classes=('a', 'b'), train_per_class=4)
    self.paths = [p for p, _ in self.written['train']]
    self.folder = os.path.join(self.root, 'a')

  def assertNamed(self, data_or_list, logs, expected):
    """`expected`: [(path, text in the reason)], in order."""
    unreadable = getattr(data_or_list, 'unreadable', data_or_list)
    self.assertEqual([u.path for u in unreadable], [p for p, _ in expected])
    for (path, why), entry in zip(expected, unreadable):
      self.assertIn(why, entry.reason)
      self.assertTrue(any(path in line and entry.reason in line
                          for line in logs.output), msg=path)

  def test_broken_links_fifos_and_link_loops(self):
    broken = _link('gone.png', os.path.join(self.folder, 'broken.png'))
    fifo = os.path.join(self.folder, 'fifo.png')
    os.mkfifo(fifo)
    loop = _link('loop', os.path.join(self.folder, 'loop'))
    broken_class = _link('nowhere', os.path.join(self.root, 'c'))
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root, validation_percent=0)
    self.assertEqual(data.train.files, self.paths)
    self.assertEqual(data.class_names, ('a', 'b'))
    self.assertNamed(data, logs, [
        (broken_class, 'broken symbolic link'),
        (broken, 'broken symbolic link'), (fifo, 'not a regular file'),
        (loop, 'symbolic link that cannot be followed')])
    self.assertEqual(data.unreadable[0],
                     image_folder.Unreadable(broken_class,
                                             'a broken symbolic link'))

  def test_unreadable_files_and_folders(self):
    root = os.path.join(helpers.world_readable_dir(self), 'data')
    written = helpers.make_tree(root, layout='classes', classes=('a', 'b'),
                                train_per_class=2)
    secret = helpers.write_image(os.path.join(root, 'a', 'secret.png'),
                                 helpers.solid((1, 2, 3)))
    locked = os.path.join(root, 'b', 'locked')
    helpers.write_image(os.path.join(locked, 'x.png'), helpers.solid((1, 2, 3)))
    os.chmod(secret, 0)
    os.chmod(locked, 0)
    with helpers.as_unprivileged():
      with self.assertLogs('absl', 'WARNING') as logs:
        data = image_folder.find(root, validation_percent=0)
    self.assertEqual(data.train.files, [p for p, _ in written['train']])
    self.assertNamed(data, logs, [(secret, 'permission denied'),
                                  (locked, 'cannot read this folder')])

  def test_expand_paths_names_what_it_cannot_read(self):
    broken = _link('gone.png', os.path.join(self.folder, 'broken.png'))
    fifo = os.path.join(self.root, 'fifo')
    os.mkfifo(fifo)
    unreadable = []
    with self.assertLogs('absl', 'WARNING') as logs:
      files = image_folder.expand_paths(
          [broken, self.folder, fifo, self.paths[-1]], unreadable)
    self.assertEqual(files, self.paths[:4] + self.paths[-1:])
    self.assertNamed(unreadable, logs, [
        (broken, 'broken symbolic link'), (broken, 'broken symbolic link'),
        (fifo, 'not a regular file')])

  def test_expand_paths_without_a_list_still_names_them(self):
    broken = _link('gone.png', os.path.join(self.folder, 'broken.png'))
    with self.assertLogs('absl', 'WARNING') as logs:
      self.assertEqual(image_folder.expand_paths([broken]), [])
    self.assertIn(broken, logs.output[0])


def _surrogates(name):
  """The str Python makes of a file name that is not UTF-8 (cp1252 here)."""
  return os.fsdecode(name.encode('cp1252'))


class NotUtf8Test(tf.test.TestCase):
  """Names from a zip made on Windows: named and skipped, never a crash."""

  def setUp(self):
    super(NotUtf8Test, self).setUp()
    self.base = _scratch(self)
    self.root = os.path.join(self.base, 'data')
    self.written = helpers.make_tree(self.root, layout='classes',
                                     classes=('a', 'b'), train_per_class=4)
    self.paths = [p for p, _ in self.written['train']]
    self.folder = os.path.join(self.root, 'a')
    self.bad = os.path.join(self.folder, _surrogates(u'caf\xe9.png'))
    helpers.write(self.bad, _png())
    self.shown = os.path.join(self.folder, 'caf\\xe9.png')

  def test_find_skips_and_names_the_file(self):
    helpers.write(os.path.join(self.folder, _surrogates(u'd\xe9j\xe0'),
                               'x.png'), _png())
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root, validation_percent=50)
    self.assertEqual(sorted(_all_files(data)), self.paths)
    self.assertEqual([u.path for u in data.unreadable],
                     [self.shown, os.path.join(self.folder, 'd\\xe9j\\xe0')])
    self.assertIn('not UTF-8', data.unreadable[0].reason)
    self.assertIn(self.shown, logs.output[0])
    # What find lists goes into tf.data as it is: once UnicodeEncodeError.
    self.assertLen(self.evaluate(tf.constant(data.train.files)),
                   len(data.train.files))

  def test_expand_paths_skips_and_names_the_file(self):
    unreadable = []
    with self.assertLogs('absl', 'WARNING'):
      files = image_folder.expand_paths([self.folder, self.bad], unreadable)
    self.assertEqual(files, self.paths[:4])
    self.assertEqual([u.path for u in unreadable], [self.shown] * 2)
    self.assertLen(self.evaluate(tf.constant(files)), 4)

  def test_expand_paths_takes_bytes(self):
    unreadable = []
    with self.assertLogs('absl', 'WARNING'):
      files = image_folder.expand_paths(
          [os.fsencode(self.bad), os.fsencode(self.paths[0])], unreadable)
    self.assertEqual(files, self.paths[:1])
    self.assertLen(unreadable, 1)

  def test_a_class_folder_must_have_a_utf8_name(self):
    name = _surrogates(u'\xe9t\xe9')
    helpers.write(os.path.join(self.root, name, 'x.png'), _png())
    with self.assertRaisesRegex(image_folder.DataError,
                                r'class folder .*\\xe9t\\xe9: its name is '
                                r'not UTF-8.*rename it'):
      image_folder.find(self.root)

  def test_a_data_dir_must_have_a_utf8_name(self):
    moved = os.path.join(self.base, _surrogates(u'donn\xe9es'))
    os.rename(self.root, moved)
    with self.assertRaisesRegex(image_folder.DataError,
                                r'^--data_dir .*donn\\xe9es: the path is not '
                                r'UTF-8; rename it'):
      image_folder.find(moved)


class LayoutMessagesTest(tf.test.TestCase, parameterized.TestCase):
  """A class named train or val, a flat validation folder: what to do."""

  def setUp(self):
    super(LayoutMessagesTest, self).setUp()
    self.root = os.path.join(self.get_temp_dir(), 'data')

  def assertMessage(self, *parts):
    with self.assertRaises(image_folder.DataError) as caught:
      image_folder.find(self.root)
    message = str(caught.exception)
    self.assertNotIn('\n', message)
    for part in parts:
      self.assertIn(part, message)

  def test_a_class_named_train(self):
    helpers.make_tree(self.root, layout='classes',
                      classes=('bus', 'car', 'train'))
    self.assertMessage(os.path.join(self.root, 'train'), 'no class folders',
                       'if train is a class beside bus, car, rename it')

  @parameterized.parameters('val', 'validation')
  def test_a_class_named_val(self, name):
    helpers.make_tree(self.root, layout='classes', classes=('bus', name))
    self.assertMessage(
        '%s has a %s/ folder but no train/ folder' % (self.root, name),
        'if %s is a class, rename it' % name,
        'move the training class folders (bus) into %s/train/' % self.root,
        'sort the images of %s' % os.path.join(self.root, name))

  def test_a_flat_validation_folder_beside_train(self):
    helpers.make_tree(self.root, classes=('a', 'b'), validation_per_class=0)
    helpers.write(os.path.join(self.root, 'validation', 'x.png'), _png())
    validation = os.path.join(self.root, 'validation')
    self.assertMessage(
        '%s holds files but no class folders' % validation,
        'sort them into %s/<class>/' % validation,
        'or remove %s to hold out --validation_percent' % validation)

  def test_loose_images_and_other_folders_are_named(self):
    helpers.make_tree(self.root, classes=('a', 'b'))
    loose = helpers.write(os.path.join(self.root, 'train', 'x.png'), _png())
    helpers.write(os.path.join(self.root, 'test', 'y.png'), _png())
    with self.assertLogs('absl', 'WARNING') as logs:
      data = image_folder.find(self.root)
    self.assertNotIn(loose, data.train.files)
    self.assertIn('Ignored test in %s' % self.root, logs.output[0])
    self.assertIn('such as %s' % loose, logs.output[1])


if __name__ == '__main__':
  tf.test.main()
