"""Environment defaults set before torch and transformers are first imported.

* ``USE_TF=0``: transformers otherwise imports TensorFlow (which Rasa installs) the
  first time it meets an unknown tensor type, costing seconds and hundreds of MB;
  this package only uses PyTorch.
* ``OMP_WAIT_POLICY=PASSIVE``: on a small shared machine, OpenMP threads that
  spin while waiting made two-thread training up to ten times slower whenever
  another process held a core; passive waiting keeps it near one-thread speed.

``setdefault`` leaves an explicit choice of the caller alone, and nothing changes
for a process that imported torch or transformers before this package.
"""

import os

os.environ.setdefault("USE_TF", "0")
os.environ.setdefault("USE_TORCH", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
