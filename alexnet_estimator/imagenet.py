"""The ILSVRC-2012 classes: 1000 WordNet synsets in label order, with names.

The list ships with the package (data/imagenet_classes.tsv: class id, synset,
WordNet names), so nothing is fetched at run time. Its order is the one every
ImageNet tool shares: the sorted synsets, as tensorflow/models'
imagenet_lsvrc_2015_synsets.txt lists them; builders that store labels 1..1000
(build_imagenet_data.py, imagenet_to_gcs.py) store class id + 1, TensorFlow
Datasets' imagenet2012 the class id itself. The names are those of
imagenet_metadata.txt (and of the ILSVRC devkit), e.g. 'tench, Tinca tinca'.

Typical use:

  synset, name = imagenet.classes()[0]   # ('n01440764', 'tench, Tinca tinca')
  imagenet.class_id('n15075141')         # 999
"""
import functools
import pkgutil

NUM_CLASSES = 1000
DATA_FILE = 'data/imagenet_classes.tsv'  # inside the package


@functools.lru_cache(maxsize=None)
def classes():
  """The 1000 ILSVRC-2012 classes in label order.

  Returns:
    Tuple of (synset, name) string pairs; index i is class id i.
  """
  text = pkgutil.get_data('alexnet_estimator', DATA_FILE).decode('utf-8')
  rows = [line.split('\t') for line in text.splitlines()[1:] if line]
  return tuple((synset, name) for _, synset, name in rows)


@functools.lru_cache(maxsize=None)
def _ids():
  return {synset: i for i, (synset, _) in enumerate(classes())}


def synsets():
  """The 1000 synsets in label order, e.g. ('n01440764', ...)."""
  return tuple(synset for synset, _ in classes())


def class_id(synset):
  """The ILSVRC-2012 class id (0..999) of `synset`, or None."""
  return _ids().get(synset)


def name(synset):
  """The human-readable name of an ILSVRC-2012 `synset`, or None."""
  i = class_id(synset)
  return None if i is None else classes()[i][1]


def is_imagenet_synsets(names):
  """True if `names` is not empty and each is an ILSVRC-2012 synset."""
  names = list(names)
  return bool(names) and all(n in _ids() for n in names)


def follows_ilsvrc_order(synset_by_class):
  """True if each class id maps to the ILSVRC-2012 synset of that id.

  Args:
    synset_by_class: dict {class id (int, 0-based): synset (str)}, e.g. what
      a subset's records say.
  """
  return bool(synset_by_class) and all(
      class_id(synset) == i for i, synset in synset_by_class.items())


@functools.lru_cache(maxsize=None)
def class_names():
  """The 1000 names as a network's class names: unique, in label order.

  Two classes share a name ('crane' the bird, n02012849, and the machine,
  n03126707); each of those gets its synset added: 'crane (n02012849)'.
  """
  names = [n for _, n in classes()]
  return tuple(n if names.count(n) == 1 else '%s (%s)' % (n, s)
               for s, n in classes())
