"""Training: ``episodic`` (the episodic loop every meta-learning method uses, resumable, staged),
``pretrain`` (cross-entropy pretraining for the transfer baselines, and their heads), ``checkpoints``
(saving and loading models, safely; the settings a shipped model was made with) and ``distributed`` (the
episodic loop in several processes under torchrun)."""
