"""Finds the images of a class-per-folder tree and splits them.

Two layouts are understood:

  DATA/train/<class>/*  and  DATA/validation/<class>/*  (or DATA/val/<class>/*)
  DATA/<class>/*        a deterministic split holds `validation_percent` out

Class ids are the sorted names of the training class folders. Files are found
by listing, not by extension: whatever a class folder holds is tried, and a file
that does not decode is skipped at read time (see input_fn). Hidden files and
folders (names starting with '.') are ignored.

Symbolic links are followed, but every real folder is read once and every real
file counted once, in one class of one split: a link to a folder that holds
the link (a loop, `..`), to a folder that holds class folders, or into a class
folder (whose files belong to that class) is not followed, with a warning. A
file reached twice (a file link, a hard link) is kept once, where it really
lies, with a warning.

What cannot be read is named in a warning and listed in `unreadable`, for the
caller to count with the files that do not decode: broken links, files and
folders that cannot be read, things that are not files (FIFOs, devices), and
names that are not UTF-8 (as zips made on Windows have), which TensorFlow
cannot take as a path.
"""
import collections
import errno
import hashlib
import os
import stat

from absl import logging

from alexnet_estimator import errors
from alexnet_estimator import preprocessing

TRAIN_DIR = 'train'
VALIDATION_DIRS = ('validation', 'val')

Split = collections.namedtuple('Split', ['files', 'labels'])
ImageFolder = collections.namedtuple(
    'ImageFolder',
    ['class_names', 'train', 'validation', 'layout', 'unreadable'])
# A file or folder that cannot be used: `path` (text, see `printable`) and why.
Unreadable = collections.namedtuple('Unreadable', ['path', 'reason'])


DataError = errors.DataError  # the one-line error of this module


def printable(path):
  """`path` as text that prints and encodes anywhere.

  A name that is not UTF-8 reaches Python with its bytes as surrogate escapes
  (os.fsdecode), which cannot be printed or given to TensorFlow; here they
  show as \\xNN.
  """
  return os.fsencode(path).decode('utf-8', 'backslashreplace')


def _is_utf8(path):
  """False for a name with bytes that are not UTF-8 (surrogate escapes)."""
  try:
    path.encode('utf-8')
  except UnicodeEncodeError:
    return False
  return True


_NOT_UTF8 = ('its name is not UTF-8 (a zip made on Windows?): rename it, '
             'e.g. with convmv')


def _inside(path, folder):
  """True if the real path `path` is the real path `folder` or below it."""
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _readable(path):
  """True if this process may read `path` (by its effective ids, as it will)."""
  return os.access(path, os.R_OK,
                   effective_ids=os.access in os.supports_effective_ids)


def _link_reason(error):
  """Why a symbolic link cannot be followed, from the OSError of its stat."""
  if error.errno == errno.ENOENT:
    return 'a broken symbolic link'
  return 'a symbolic link that cannot be followed (%s)' % error.strerror


def _visible(names):
  return sorted(n for n in names if not n.startswith('.'))


def _subdirs(path):
  """The visible folders in `path`, sorted; DataError if it cannot be read."""
  try:
    names = os.listdir(path)
  except OSError as e:
    raise DataError('cannot read %s: %s' % (printable(path), e.strerror))
  return [n for n in _visible(names) if os.path.isdir(os.path.join(path, n))]


# A regular file found by _Walker: `key` (st_dev, st_ino) is the real file;
# `at_home` says it lies in the folder walked (not reached by a link from
# elsewhere); `linked` that `path` is itself a link.
_Found = collections.namedtuple('_Found', ['path', 'key', 'at_home', 'linked'])


class _Walker(object):
  """Lists the files below folders, reading every real folder once.

  One walker serves one tree: it knows the real paths of all its class
  folders (`homes`), so that a link never pulls one class's files, or the
  class folders themselves, into another class.
  """

  def __init__(self, homes):
    self._homes = [os.path.realpath(h) for h in homes]
    self._seen = set()  # (st_dev, st_ino) of the folders read
    self.unreadable = []

  def skip(self, path, reason):
    """Names `path` in a warning and in `unreadable`."""
    shown = printable(path)
    logging.warning('Skipped %s: %s', shown, reason)
    self.unreadable.append(Unreadable(shown, reason))

  def _why_not_follow(self, target, parent):
    """Why not to follow a link in folder `parent` to folder `target`, or None.

    Both are real paths. A loop, a folder that holds class folders and one
    inside a class folder (read there, with that class) are not followed.
    """
    if _inside(parent, target):
      return 'which holds the link (a loop)'
    for home in self._homes:
      if _inside(target, home):
        return 'which is read as part of %s' % printable(home)
    for home in self._homes:
      if _inside(home, target):
        return 'which holds %s' % printable(home)
    return None

  def walk(self, root):
    """The regular files below `root`, as _Found, in listing order.

    Order: a folder's own files sorted by name, then each subfolder's (sorted
    by name), depth first: the same on every call.
    """
    found = []
    real = os.path.realpath(root)
    self._walk(root, real, real, found)
    return found

  def _walk(self, folder, real, home, found):
    try:
      info = os.stat(folder)
      entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
      self.skip(folder, 'cannot read this folder: %s' % e.strerror)
      return
    key = (info.st_dev, info.st_ino)
    if key in self._seen:  # the same folder by another path (a bind mount)
      logging.warning('Not reading %s again: it is a folder already read',
                      printable(folder))
      return
    self._seen.add(key)
    at_home = _inside(real, home)
    folders = []
    for entry in entries:
      if entry.name.startswith('.'):
        continue
      path = entry.path
      if not _is_utf8(entry.name):
        self.skip(path, _NOT_UTF8)
        continue
      linked = False
      try:
        linked = entry.is_symlink()
        info = entry.stat()
      except OSError as e:
        self.skip(path, _link_reason(e) if linked else e.strerror)
        continue
      if stat.S_ISDIR(info.st_mode):
        folders.append((entry, linked))
      elif not stat.S_ISREG(info.st_mode):
        self.skip(path, 'not a regular file (a FIFO, socket or device)')
      elif not _readable(path):
        self.skip(path, 'permission denied')
      else:
        found.append(_Found(
            path, (info.st_dev, info.st_ino),
            _inside(os.path.realpath(path), home) if linked else at_home,
            linked))
    for entry, linked in folders:
      if not linked:
        self._walk(entry.path, os.path.join(real, entry.name), home, found)
        continue
      target = os.path.realpath(entry.path)
      why = self._why_not_follow(target, real)
      if why:
        logging.warning('Not following %s: it links to %s, %s',
                        printable(entry.path), printable(target), why)
      else:
        self._walk(entry.path, target, home, found)


def _once_each(groups):
  """Keeps each real file in one group: where it lies, else the first.

  Args:
    groups: list of lists of _Found, in priority order (a tree's class folders,
      training before validation).

  Returns:
    A list of lists of paths, parallel to `groups`: each real file once, at
    home (not through a link from elsewhere) if it is anywhere, under its own
    name rather than a link's if it can.
  """
  best = {}
  for index, found in enumerate(groups):
    for f in found:
      rank = (not f.at_home, f.linked)
      if f.key not in best or rank < best[f.key][0]:
        best[f.key] = (rank, index, f)
  kept = []
  for index, found in enumerate(groups):
    paths = []
    for f in found:
      _, owner, winner = best[f.key]
      if owner == index and winner is f:
        paths.append(f.path)
      else:
        logging.warning('Ignored %s: the same file as %s, counted there',
                        printable(f.path), printable(winner.path))
    kept.append(paths)
  return kept


def looks_like_image(path):
  """True if the file starts like a JPEG, PNG, GIF or BMP (reads 8 bytes)."""
  try:
    with open(path, 'rb') as f:
      head = f.read(8)
  except (IOError, OSError):
    return False
  return any(head.startswith(s) for s in preprocessing.IMAGE_SIGNATURES)


def _as_split(per_class, class_names):
  index = {name: i for i, name in enumerate(class_names)}
  files, labels = [], []
  for name in sorted(per_class):
    files.extend(per_class[name])
    labels.extend([index[name]] * len(per_class[name]))
  return Split(files, labels)


def in_validation(relative_path, validation_percent):
  """Deterministic split: the same file always lands on the same side.

  The side depends only on the file's path relative to the data folder, so
  adding images never moves existing ones between train and validation.
  """
  digest = hashlib.sha1(relative_path.replace(os.sep, '/').encode('utf-8'))
  bucket = int(digest.hexdigest()[:8], 16) % 10000
  return bucket < validation_percent * 100


def _names(names):
  """Folder names for a message: 'a, b, c', at most five."""
  shown = [printable(n) for n in names[:5]]
  return ', '.join(shown + (['...'] if len(names) > 5 else []))


def _broken_links(folder):
  """The visible entries of `folder` that are links to nothing."""
  paths = [os.path.join(folder, n) for n in _visible(os.listdir(folder))]
  return [p for p in paths if os.path.islink(p) and not os.path.exists(p)]


def _check_class_names(root, names):
  for name in names:
    if not _is_utf8(name):
      raise DataError('class folder %s: its name is not UTF-8 (a zip made on '
                      'Windows?); rename it, e.g. with convmv'
                      % printable(os.path.join(root, name)))


def _check_separate(folders):
  """DataError if two class folders are one real folder, or one holds one."""
  # Sorted by path components, a folder comes just before the first of those
  # it holds.
  real = sorted((os.path.realpath(f).split(os.sep), f) for f in folders)
  for (real_a, a), (real_b, b) in zip(real, real[1:]):
    if real_b[:len(real_a)] == real_a:
      raise DataError(
          'class folders %s and %s are the same folder or one holds the other '
          '(a symbolic link?): each class needs a folder of its own; remove '
          'the link' % (printable(a), printable(b)))


def _warn_loose_images(folder):
  """Warns if `folder`, which holds class folders, also holds images."""
  loose = [os.path.join(folder, n) for n in _visible(os.listdir(folder))]
  loose = [f for f in loose if os.path.isfile(f) and looks_like_image(f)]
  if loose:
    logging.warning('Ignored %d image(s) directly in %s, such as %s: only '
                    'the images in its class folders are read; move them into '
                    'one', len(loose), printable(folder), printable(loose[0]))


def _holds_files(folder):
  return any(os.path.isfile(os.path.join(folder, n))
             for n in _visible(os.listdir(folder)))


def _layout_error(data_dir, top, val_name):
  """The DataError of a tree that has a validation folder but no train/."""
  val_dir = os.path.join(data_dir, val_name)
  others = [d for d in top if d not in VALIDATION_DIRS]
  message = ('%s has a %s/ folder but no %s/ folder: a folder named %s means '
             'the layout %s/%s/<class>/ beside %s/<class>/'
             % (data_dir, val_name, TRAIN_DIR, val_name, data_dir, TRAIN_DIR,
                val_dir))
  if others:
    message += ('; if %s is a class, rename it (e.g. to %s_class); else move '
                'the training class folders (%s) into %s/%s/'
                % (val_name, val_name, _names(others), data_dir, TRAIN_DIR))
    if not _subdirs(val_dir) and _holds_files(val_dir):
      message += ' and sort the images of %s into %s/<class>/' % (val_dir,
                                                                  val_dir)
  else:
    message += '; put the training images in %s/%s/<class>/' % (data_dir,
                                                                TRAIN_DIR)
  return DataError(message)


def find(data_dir, validation_percent=10.0, flag='--data_dir'):
  """Lists a class-per-folder image tree.

  Every real file is listed once, in one class of one split; what cannot be
  read is named in a warning and in `unreadable` (see the module docstring).

  Args:
    data_dir: path of the tree, in one of the layouts of the module docstring.
    validation_percent: share of files held out for validation when the tree
      has no validation folder, in [0, 100).
    flag: the command-line flag that named `data_dir`, for the messages.

  Returns:
    An ImageFolder: `class_names` (sorted tuple), `train` and `validation`
    Splits of parallel `files` and int `labels` lists, `layout`, 'split' or
    'classes', and `unreadable`, a list of Unreadable (path, reason): the
    broken links, unreadable files and folders, non-files and names that are
    not UTF-8 below the class folders, each already named in a warning; count
    them with the files that do not decode.

  Raises:
    DataError: the folder is missing, empty or unreadable, a class folder has
      no images or a name that is not UTF-8, two class folders are one, the
      layout is ambiguous (a folder named train or validation that is a class,
      a validation folder without class folders), or a validation folder names
      a class that training does not have.
  """
  data_dir = os.fsdecode(data_dir)
  if not _is_utf8(data_dir):
    raise DataError('%s %s: the path is not UTF-8; rename it, e.g. with '
                    'convmv' % (flag, printable(data_dir)))
  if not os.path.isdir(data_dir):
    raise DataError('%s %s: no such directory' % (flag, data_dir))
  top = _subdirs(data_dir)
  if not top:
    raise DataError('%s %s has no class folders: put each class\'s images '
                    'in a folder of its own, %s/<class>/'
                    % (flag, data_dir, data_dir))
  val_name = next((d for d in VALIDATION_DIRS if d in top), None)
  if TRAIN_DIR in top:
    train_root = os.path.join(data_dir, TRAIN_DIR)
    class_names = tuple(_subdirs(train_root))
    others = [d for d in top if d not in (TRAIN_DIR, val_name)]
    if not class_names and others:
      raise DataError(
          '%s has no class folders, but a folder named %s means the layout '
          '%s/<class>/: if %s is a class beside %s, rename it (e.g. to '
          '%s_class)' % (train_root, TRAIN_DIR, train_root, TRAIN_DIR,
                         _names(others), TRAIN_DIR))
    if not class_names:
      raise DataError('%s has no class folders: put each class\'s images in '
                      'a folder of its own, %s/<class>/'
                      % (train_root, train_root))
    if others:
      logging.warning('Ignored %s in %s: with a %s/ folder, only %s/ and %s/ '
                      'are read; if %s is a class, rename it',
                      _names(others), data_dir, TRAIN_DIR, TRAIN_DIR,
                      '/ or '.join(VALIDATION_DIRS), TRAIN_DIR)
    layout = 'split'
  elif val_name is not None:
    raise _layout_error(data_dir, top, val_name)
  else:
    train_root = data_dir
    class_names = tuple(top)
    layout = 'classes'
  _check_class_names(train_root, class_names)
  _warn_loose_images(train_root)

  val_dir = val_names = None
  if val_name is not None:
    val_dir = os.path.join(data_dir, val_name)
    val_names = _subdirs(val_dir)
    if not val_names and _holds_files(val_dir):
      raise DataError(
          '%s holds files but no class folders, so its images have no '
          'labels: sort them into %s/<class>/ as in %s, or remove %s to hold '
          'out --validation_percent of %s' % (val_dir, val_dir, train_root,
                                              val_dir, train_root))
    if not val_names:
      logging.warning('%s is empty: there are no validation images', val_dir)
    unknown = sorted(set(val_names) - set(class_names))
    if unknown:
      raise DataError('%s has class folder %r, which %s lacks'
                      % (val_dir, printable(unknown[0]), train_root))
    _warn_loose_images(val_dir)

  roots = [os.path.join(train_root, n) for n in class_names]
  if val_dir is not None:
    roots += [os.path.join(val_dir, n) for n in val_names]
  _check_separate(roots)
  walker = _Walker(roots)
  # A class folder that links to nothing is named, not silently dropped.
  for folder in sorted(set([data_dir, train_root, val_dir]) - set([None])):
    for path in _broken_links(folder):
      walker.skip(path, 'a broken symbolic link')
  groups = _once_each([walker.walk(root) for root in roots])
  train = dict(zip(class_names, groups))
  for name in class_names:
    if not any(looks_like_image(f) for f in train[name]):
      raise DataError('class folder %s has no images'
                      % os.path.join(train_root, name))
  if val_dir is not None:
    validation = dict(zip(val_names, groups[len(class_names):]))
  else:
    validation = {}
    for name, files in train.items():
      held = set(f for f in files if in_validation(
          os.path.relpath(f, train_root), validation_percent))
      validation[name] = [f for f in files if f in held]
      train[name] = [f for f in files if f not in held]
  return ImageFolder(class_names, _as_split(train, class_names),
                     _as_split(validation, class_names), layout,
                     walker.unreadable)


def expand_paths(paths, unreadable=None):
  """Image files for prediction: files as given, folders listed, in order.

  A folder is listed as a class folder is by `find`: each real folder and file
  once, links that loop not followed. A path given twice is kept twice.

  Args:
    paths: iterable of file or folder paths (str, bytes or os.PathLike).
    unreadable: optional list; gets an Unreadable for each path given or found
      that cannot be read (a broken link, a FIFO, a file or folder that
      cannot be read, a name that is not UTF-8), each also named in a
      warning. Count them with the files that do not decode.

  Returns:
    List of file paths (str), in the order given (a folder's files sorted).

  Raises:
    DataError: a path does not exist.
  """
  files = []
  for path in paths:
    path = os.fsdecode(path)
    walker = _Walker([path])
    if not os.path.lexists(path):
      raise DataError('%s: no such file or directory' % printable(path))
    elif not _is_utf8(path):
      walker.skip(path, _NOT_UTF8)
    elif os.path.isdir(path):
      files.extend(_once_each([walker.walk(path)])[0])
    elif os.path.isfile(path):
      if _readable(path):
        files.append(path)
      else:
        walker.skip(path, 'permission denied')
    elif os.path.islink(path) and not os.path.exists(path):
      try:
        os.stat(path)
      except OSError as e:
        walker.skip(path, _link_reason(e))
    else:
      walker.skip(path, 'not a regular file (a FIFO, socket or device)')
    if unreadable is not None:
      unreadable.extend(walker.unreadable)
  return files
