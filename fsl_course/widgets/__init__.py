"""Interactive explorers for the notebooks (ipywidgets): turn a knob, watch the picture change.

Every explorer is built the same way:

* a **plain function** does the work (draw an episode, classify drawings, place prototypes, score prompts);
  the explorer only calls it, so the logic is tested without a browser;
* the **controls are attributes** (``explorer.way_slider``, ``explorer.new_episode_button``, ...): set a value
  or press a button (``button.click()``) and the explorer redraws; what it drew is kept as attributes too
  (``explorer.episode``, ``explorer.result``, ``explorer.view``, ``explorer.error``);
* the picture is a matplotlib figure shown as a PNG in an ``ipywidgets.Output`` (``explorer.output``), with a
  line of text above it (``explorer.message``);
* an **impossible setting** (more classes than the data set has, more shots than drawings...) shows its
  message in the widget, and ``explorer.error`` holds it, instead of raising;
* a **static fallback**: displaying an explorer gives the widget together with its current figure as a plain
  PNG, which renderers that cannot run widgets (a printed book, a PDF, GitHub) show instead;
  ``explorer.static_figure()`` draws that figure.

The explorers: :class:`EpisodeExplorer` (notebook 01), :class:`CharacterExplorer` ("your own character",
notebooks 01 and 05), :class:`InnerLoopStepper` (notebook 03), :class:`PrototypeExplorer` (notebook 05),
:class:`PromptPlayground` (notebooks 07 and 08).

One module per explorer (``episodes``, ``characters``, ``prototypes``, ``inner_loop``, ``prompts``) with its
plain functions, on the shared :class:`~fsl_course.widgets.base.Explorer` (``base``); this package imports
every public name, so ``from fsl_course.widgets import EpisodeExplorer`` works as it always has.
"""

from __future__ import annotations

from fsl_course.widgets.base import DPI, Explorer, figure_png
from fsl_course.widgets.characters import (CharacterExplorer, CharacterResult, classify_drawings, dataset_picks,
                                           flatten_transparency, label_from_filename, photo_preprocess,
                                           plot_character_result, prepare_uploads, read_uploads, short_class_name)
from fsl_course.widgets.episodes import EpisodeExplorer, sample_episode
from fsl_course.widgets.inner_loop import InnerLoopStepper, InnerLoopView, inner_loop_view, plot_inner_loop_view
from fsl_course.widgets.prompts import (ENSEMBLES, PromptPlayground, parse_class_names, parse_templates,
                                        prompt_probabilities)
from fsl_course.widgets.prototypes import (PrototypeExplorer, PrototypeView, class_embeddings, plot_prototype_view,
                                           prototype_view)

__all__ = [
    "DPI", "figure_png", "Explorer", "short_class_name", "flatten_transparency", "read_uploads",
    "label_from_filename", "photo_preprocess", "prepare_uploads", "dataset_picks", "CharacterResult",
    "classify_drawings", "plot_character_result", "CharacterExplorer", "sample_episode", "EpisodeExplorer",
    "InnerLoopView", "inner_loop_view", "plot_inner_loop_view", "InnerLoopStepper", "ENSEMBLES",
    "parse_class_names", "parse_templates", "prompt_probabilities", "PromptPlayground", "PrototypeView",
    "class_embeddings", "prototype_view", "plot_prototype_view", "PrototypeExplorer",
]
