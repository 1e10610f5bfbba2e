"""Training: LoRA specialists from the latest exports.

Importing this package stays light (no torch): the daemon and the job worker import
`aitherd.train.job` and `aitherd.train.config`; the heavy trainer runs only in the subprocess
`python -m aitherd.train SPEC.json`.
"""

from aitherd.train.config import TrainConfig

__all__ = ["TrainConfig"]
