"""The data sets, one module a source: ``omniglot`` (characters), ``mini_imagenet`` (photos); ``dataset``
holds the in-memory layout they share, ``download`` the verified, atomic fetching, ``images`` the
preprocessing of raw pictures, ``runs`` Lake's official 20 one-shot runs, ``handwriting`` handwriting from
outside Omniglot (for testing the character models), ``augment`` more shots from few
(distorted copies of the support images; random shifts for pretraining).

:func:`load_split` takes any split by name, as the command line does (``--train-split mini_train``).
"""

from __future__ import annotations


def load_split(name: str, image_size: int | None = None, rotations: bool = False, quiet: bool = False):
    """The split ``name``: an Omniglot split (``vinyals_train``, ``background``, ...) at ``image_size`` (default
    28), a mini-ImageNet split (``mini_train``, ``mini_val``, ``mini_test``; always 84x84), or ``folder:PATH``,
    a folder of your own photos with one subfolder per class (default 84x84), or ``digits``, handwritten digits
    from outside Omniglot (default 28x28; for testing only)."""
    if name.startswith("folder:"):
        from fsl_course.data.folder import load_image_folder

        if rotations:
            raise ValueError("rotations as new classes are for Omniglot's characters, not for photos")
        return load_image_folder(name[len("folder:"):], image_size or 84, quiet=quiet)
    if name.startswith("mini_"):
        from fsl_course.data.mini_imagenet import IMAGE_SIZE, load_mini_imagenet

        if image_size not in (None, IMAGE_SIZE):
            raise ValueError(f"mini-ImageNet images are {IMAGE_SIZE}x{IMAGE_SIZE}; drop --image-size "
                             f"(or give {IMAGE_SIZE}), got {image_size}")
        if rotations:
            raise ValueError("rotations as new classes are for Omniglot's characters, not for photos")
        return load_mini_imagenet(name, quiet=quiet)
    if name == "digits":
        from fsl_course.data.handwriting import load_digits_split

        if rotations:
            raise ValueError("rotations as new classes are for training on Omniglot; 'digits' is for testing only")
        return load_digits_split(image_size or 28)
    from fsl_course.data.omniglot import load_omniglot

    return load_omniglot(name, image_size or 28, rotations=rotations, quiet=quiet)
