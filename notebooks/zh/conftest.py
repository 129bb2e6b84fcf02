"""pytest does not collect the Chinese notebooks: they are generated from the English ones (``fsl-course
translate build``, see fsl_course/translation.py) with exactly their code cells, which ``pytest --nbval-lax``
already executes in ``notebooks/``; tests/test_translation.py checks that they are what the generator makes."""

collect_ignore_glob = ["*.ipynb"]
