"""Packaging for alexnet_estimator.

TensorFlow is not in install_requires: pick the build with an extra,
`pip install .[cpu]` (intel-tensorflow 1.15.2, the MKL-DNN build: the fastest
on a CPU, Python 3.6/3.7), `pip install .[cpu-stock]` (tensorflow 1.15.5) or
`pip install .[gpu]` (tensorflow-gpu 1.15.5). NVIDIA's TF1 containers already
ship TensorFlow, so a plain `pip install .` is right there.
"""
import setuptools

# numpy and protobuf come pinned by the TensorFlow build in use; pinning them
# here would fight NVIDIA's TF1 containers, which ship newer numpy.
# Pillow: build_tfrecords re-encodes images with it.
COMMON = ['absl-py>=0.7', 'Pillow>=6']

setuptools.setup(
    name='alexnet_estimator',
    version='0.1.0',
    description='AlexNet on tf.estimator (TensorFlow 1.15): train, evaluate, '
                'predict and export.',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=setuptools.find_packages(exclude=['tests', 'tests.*']),
    python_requires='>=3.6',
    install_requires=COMMON,
    extras_require={
        'cpu': ['intel-tensorflow==1.15.2'],
        'cpu-stock': ['tensorflow==1.15.5'],
        'gpu': ['tensorflow-gpu==1.15.5'],
        'plots': ['matplotlib>=3'],
    },
    entry_points={
        'console_scripts': [
            'alexnet-estimator=alexnet_estimator.train:console_main',
            'alexnet-build-tfrecords='
            'alexnet_estimator.build_tfrecords:console_main',
        ],
    },
    classifiers=[
        'Programming Language :: Python :: 3.6',
        'Programming Language :: Python :: 3.7',
        'Programming Language :: Python :: 3.8',
    ],
)
