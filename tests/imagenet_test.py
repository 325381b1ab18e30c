"""Tests for the shipped ILSVRC-2012 class list."""
import tensorflow as tf

from alexnet_estimator import imagenet


class ImagenetClassesTest(tf.test.TestCase):

  def test_the_standard_list_in_label_order(self):
    classes = imagenet.classes()
    synsets = [s for s, _ in classes]
    self.assertLen(classes, 1000)
    self.assertLen(set(synsets), 1000)
    self.assertEqual(synsets, sorted(synsets))  # ILSVRC order: sorted
    self.assertEqual(classes[0], ('n01440764', 'tench, Tinca tinca'))
    self.assertEqual(classes[-1], ('n15075141', 'toilet tissue, toilet paper, '
                                                'bathroom tissue'))
    for synset, name in classes:
      self.assertRegex(synset, r'^n\d{8}$')
      self.assertTrue(name and name == name.strip(), synset)

  def test_lookups(self):
    self.assertEqual(imagenet.class_id('n01443537'), 1)
    self.assertEqual(imagenet.name('n01443537'), 'goldfish, Carassius auratus')
    self.assertIsNone(imagenet.class_id('n00000000'))
    self.assertIsNone(imagenet.name('cat'))
    self.assertTrue(imagenet.is_imagenet_synsets(['n01440764', 'n15075141']))
    self.assertFalse(imagenet.is_imagenet_synsets(['n01440764', 'cat']))
    self.assertFalse(imagenet.is_imagenet_synsets([]))
    self.assertTrue(imagenet.follows_ilsvrc_order(
        {0: 'n01440764', 999: 'n15075141'}))
    self.assertFalse(imagenet.follows_ilsvrc_order({0: 'n01443537'}))

  def test_class_names_are_unique_and_human_readable(self):
    names = imagenet.class_names()
    self.assertLen(set(names), 1000)
    self.assertEqual(names[0], 'tench, Tinca tinca')
    # 'crane' is a bird and a machine.
    self.assertEqual(names[imagenet.class_id('n02012849')],
                     'crane (n02012849)')
    self.assertEqual(names[imagenet.class_id('n03126707')],
                     'crane (n03126707)')


if __name__ == '__main__':
  tf.test.main()
