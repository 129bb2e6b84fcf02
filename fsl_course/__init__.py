"""fsl_course: the package behind the few-shot learning course.

Every method the notebooks teach lives here once, tested; the notebooks explain and call it.

What each folder holds:

* the core that every chapter uses: the modules ``config`` (paths, device, quick mode), ``io`` (atomic files),
  ``episodes`` (N-way K-shot episodes), ``backbones`` (Conv-4, ResNet-12), ``classifier`` (the public
  classifier, ``load_classifier``) and ``colab`` (every notebook's first cell: the course and Omniglot installed
  where they are missing, as in Colab); ``data/`` (the data sets, their download and preprocessing, the official
  runs, augmentation), ``methods/`` (one module per method behind one interface), ``training/`` (the episodic
  loop, in several processes under torchrun too, pretraining, checkpoints) and ``evaluation/`` (accuracy with
  its interval, the papers' numbers, the README's results block, the showdown);
* ``clip/``: CLIP, zero-shot classification and the mini-CLIP;
* the tools that show results: ``viz`` (the figures) and ``widgets/`` (the notebooks' interactive explorers);
* ``toys/``: two toys that one chapter each uses, MAML's sine waves and the overfitting demo;
* ``cli/``: the ``fsl-course`` command line, one module per group of commands.

Where each chapter's code lives (module paths below ``fsl_course``):

* 00 setup and tour: ``config``, ``data.download``, ``data.omniglot``, ``viz``, ``cli``
* 01 what is few-shot learning: ``episodes``, ``methods.pixel``, ``toys.scratch``, ``evaluation.evaluate``,
  ``classifier``, ``viz``, ``widgets.episodes``, ``widgets.characters``
* 02 data- and parameter-level approaches: ``training.pretrain``, ``methods.baseline``, ``data.augment``,
  ``training.checkpoints``, ``evaluation.evaluate``, ``evaluation.report``, ``data.runs``, ``data.handwriting``,
  ``evaluation.outside``, ``viz``
* 03 MAML: ``methods.maml``, ``training.episodic``, ``toys.sine``, ``data.runs``, ``evaluation.evaluate``,
  ``evaluation.references``, ``evaluation.report``, ``viz``, ``widgets.inner_loop``
* 04 Matching Networks: ``methods.matching``, ``training.episodic``, ``data.runs``, ``evaluation.evaluate``,
  ``evaluation.references``, ``evaluation.report``, ``viz``
* 05 Prototypical Networks: ``methods.protonet``, ``training.episodic``, ``data.runs``, ``evaluation.evaluate``,
  ``evaluation.references``, ``evaluation.report``, ``viz``, ``widgets.prototypes``, ``widgets.characters``
* 06 Relation Networks: ``methods.relation``, ``training.episodic``, ``training.checkpoints``, ``data.runs``,
  ``evaluation.evaluate``, ``evaluation.references``, ``evaluation.report``, ``viz``
* 07 zero-shot with CLIP: ``clip.model``, ``clip.zeroshot``, ``clip.synthetic``, ``clip.plots``,
  ``widgets.prompts``
* 08 a mini-CLIP from scratch: ``clip.mini``, ``clip.synthetic``, ``clip.zeroshot``, ``clip.plots``,
  ``widgets.prompts``
* 09 the showdown: ``evaluation.showdown``, ``evaluation.evaluate``, ``training.checkpoints``, ``methods``, ``viz``
* 10 from characters to photos: ``data.mini_imagenet``, ``data.dataset``, ``data.folder``, ``episodes``,
  ``evaluation.evaluate``, ``evaluation.references``, ``training.checkpoints``, ``classifier``, ``viz``,
  ``clip.plots``
* 11 zero-shot on photos, offline: ``clip.text_tower``, ``clip.photo``, ``clip.zeroshot``, ``clip.plots``,
  ``data.mini_imagenet``, ``episodes``, ``evaluation.evaluate``, ``viz``

Every chapter loads its data with ``data.omniglot`` (chapter 10 with ``data.mini_imagenet`` and ``data.folder``
too, 11 with ``data.mini_imagenet`` alone; 07 and 08 with ``clip.synthetic``), and a chapter's trained models come from the command line (``cli``):
``fsl-course train``, ``pretrain``, ``mini-clip``, ``photo-clip`` and ``sine``.
"""

__version__ = "0.1.0"


def load_classifier(path, device=None, photos: bool = False):
    """A few-shot classifier from any method's checkpoint: ``fit(support_images, labels)``, ``predict``
    (``photos=True``: photo mode, for photos of drawings on paper; see :func:`fsl_course.classifier.load_classifier`)."""
    from fsl_course.classifier import load_classifier as _load

    return _load(path, device=device, photos=photos)
