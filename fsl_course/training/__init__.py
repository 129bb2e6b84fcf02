"""Training: ``episodic`` (the episodic loop every meta-learning method uses, resumable, staged),
``pretrain`` (cross-entropy pretraining for the transfer baselines, and their heads) and ``checkpoints``
(saving and loading models, safely; the settings a shipped model was made with)."""
