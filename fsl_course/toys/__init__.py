"""Two toys that one chapter each uses: ``sine`` (MAML's sine-wave regression, notebook 03; trained by
``fsl-course sine``) and ``scratch`` (a network trained on one support set alone, chapter 01's overfitting
demo)."""
