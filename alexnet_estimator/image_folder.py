"""Finds the images of a class-per-folder tree and splits them.

Two layouts are understood:

  DATA/train/<class>/*  and  DATA/validation/<class>/*  (or DATA/val/<class>/*)
  DATA/<class>/*        a deterministic split holds `validation_percent` out

Class ids are the sorted names of the training class folders. Files are found
by listing, not by extension: whatever a class folder holds is tried, and a file
that does not decode is skipped at read time (see input_fn). Hidden files and
folders (names starting with '.') are ignored.
"""
import collections
import hashlib
import os

from alexnet_estimator import errors
from alexnet_estimator import preprocessing

TRAIN_DIR = 'train'
VALIDATION_DIRS = ('validation', 'val')

Split = collections.namedtuple('Split', ['files', 'labels'])
ImageFolder = collections.namedtuple(
    'ImageFolder', ['class_names', 'train', 'validation', 'layout'])


DataError = errors.DataError  # the one-line error of this module


def _visible(names):
  return sorted(n for n in names if not n.startswith('.'))


def _subdirs(path):
  return [n for n in _visible(os.listdir(path))
          if os.path.isdir(os.path.join(path, n))]


def _files_under(path):
  """Regular, visible files below `path`, recursively.

  Order: a folder's own files sorted by name, then each subfolder's (sorted by
  name), depth first: the same on every call.
  """
  found = []
  for root, dirs, names in os.walk(path, followlinks=True):
    dirs[:] = _visible(dirs)
    found.extend(os.path.join(root, n) for n in _visible(names)
                 if os.path.isfile(os.path.join(root, n)))
  return found


def looks_like_image(path):
  """True if the file starts like a JPEG, PNG, GIF or BMP (reads 8 bytes)."""
  try:
    with open(path, 'rb') as f:
      head = f.read(8)
  except (IOError, OSError):
    return False
  return any(head.startswith(s) for s in preprocessing.IMAGE_SIGNATURES)


def _class_files(root, class_names):
  """Returns {class name: [files]} for the class folders under `root`."""
  per_class = {}
  for name in class_names:
    files = _files_under(os.path.join(root, name))
    if not any(looks_like_image(f) for f in files):
      raise DataError('class folder %s has no images'
                      % os.path.join(root, name))
    per_class[name] = files
  return per_class


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


def find(data_dir, validation_percent=10.0, flag='--data_dir'):
  """Lists a class-per-folder image tree.

  Args:
    data_dir: path of the tree, in one of the layouts of the module docstring.
    validation_percent: share of files held out for validation when the tree
      has no validation folder, in [0, 100).
    flag: the command-line flag that named `data_dir`, for the messages.

  Returns:
    An ImageFolder: `class_names` (sorted tuple), `train` and `validation`
    Splits of parallel `files` and int `labels` lists, and `layout`, 'split'
    or 'classes'.

  Raises:
    DataError: the folder is missing or empty, a class folder has no images, or
      a validation folder names a class that training does not have.
  """
  if not os.path.isdir(data_dir):
    raise DataError('%s %s: no such directory' % (flag, data_dir))
  top = _subdirs(data_dir)
  if not top:
    raise DataError('%s %s has no class folders' % (flag, data_dir))
  val_dir = next((os.path.join(data_dir, d) for d in VALIDATION_DIRS
                  if d in top), None)
  if TRAIN_DIR in top:
    train_root = os.path.join(data_dir, TRAIN_DIR)
    class_names = tuple(_subdirs(train_root))
    if not class_names:
      raise DataError('%s has no class folders' % train_root)
    train = _class_files(train_root, class_names)
    layout = 'split'
  elif val_dir is not None:
    raise DataError('%s has a validation folder but no %s/ folder'
                    % (data_dir, TRAIN_DIR))
  else:
    train_root = data_dir
    class_names = tuple(top)
    train = _class_files(data_dir, class_names)
    layout = 'classes'

  if val_dir is not None:
    unknown = sorted(set(_subdirs(val_dir)) - set(class_names))
    if unknown:
      raise DataError('%s has class folder %r, which %s lacks'
                      % (val_dir, unknown[0], train_root))
    validation = {n: _files_under(os.path.join(val_dir, n))
                  for n in _subdirs(val_dir)}
  else:
    validation = {}
    for name, files in train.items():
      held = set(f for f in files if in_validation(
          os.path.relpath(f, train_root), validation_percent))
      validation[name] = [f for f in files if f in held]
      train[name] = [f for f in files if f not in held]
  return ImageFolder(class_names, _as_split(train, class_names),
                     _as_split(validation, class_names), layout)


def expand_paths(paths):
  """Image files for prediction: files as given, folders listed, in order.

  Args:
    paths: iterable of file or folder paths.

  Returns:
    List of file paths, in the order given (a folder's files sorted).

  Raises:
    DataError: a path does not exist.
  """
  files = []
  for path in paths:
    if os.path.isdir(path):
      files.extend(_files_under(path))
    elif os.path.isfile(path):
      files.append(path)
    else:
      raise DataError('%s: no such file or directory' % path)
  return files
