"""What every explorer shares: the :class:`Explorer` base (a message line, the figure in an ``Output``, errors
shown in the widget, a static PNG for renderers without widgets), :func:`figure_png` and the slider they use."""

from __future__ import annotations

import base64
import html
import io
import textwrap

import ipywidgets as widgets
import matplotlib.pyplot as plt

from fsl_course.viz import DPI, FONT

# DPI (from viz): the resolution of the figures shown in the widgets, and embedded in the book's widget state;
# the inline figures' own, so that the course's figure style (sizes, fonts) holds for both


def figure_png(fig, dpi: int = DPI) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (so the notebook does not show it twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _png_output(png: bytes, text: str = "<figure>") -> dict:
    """An ``Output`` widget's entry showing ``png`` (the nbformat ``display_data`` layout)."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}}


def _message_figure(text: str):
    fig, ax = plt.subplots(figsize=(6, 0.9))
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 90)), ha="center", va="center", color="tab:red", fontsize=FONT)
    ax.axis("off")
    return fig


class Explorer:
    """What every explorer shares: a message line, an ``Output`` with the figure, error handling, display."""

    title = ""

    def __init__(self):
        self.output = widgets.Output()
        self.message = widgets.HTML()
        self.error: str | None = None
        self.png: bytes | None = None  # the figure now shown, as PNG
        self.widget: widgets.Widget | None = None
        self._muted = False  # True while several controls are set at once (one redraw afterwards)

    def _layout(self, *rows) -> None:
        head = [widgets.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        self.widget = widgets.VBox([*head, *rows, self.message, self.output])

    # subclasses: compute the state from the controls (raise ValueError for an impossible setting) ...
    def update(self) -> None:
        raise NotImplementedError

    # ... say in one line what is shown ...
    def summary(self) -> str:
        return ""

    # ... and draw it
    def draw(self):
        raise NotImplementedError

    def redraw(self, *_) -> None:
        """Recompute from the controls and show the result, or the message of what went wrong."""
        if self._muted:
            return
        try:
            self.update()
        except Exception as e:  # an impossible setting, an unreadable upload...: say so in the widget
            self.error = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
            self.message.value = f'<span style="color:#b00020">{html.escape(self.error, quote=False)}</span>'
            self.png = None
            self.output.outputs = ()
            return
        self.error = None
        self.message.value = html.escape(self.summary(), quote=False)
        self.png = figure_png(self.draw())
        self.output.outputs = (_png_output(self.png, f"<{type(self).__name__} figure>"),)

    def static_figure(self):
        """The figure of the current state (or of its error message), for a printed page."""
        return _message_figure(self.error) if self.error else self.draw()

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # the live widget for Jupyter, and the same figure as a plain PNG for renderers without widgets
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        png = self.png if self.png is not None else figure_png(self.static_figure())
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        bundle["text/plain"] = f"{type(self).__name__}: {self.error or self.summary()}"
        return bundle


def _slider(description: str, value: int, low: int, high: int, width: str = "300px") -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False,
                             style={"description_width": "initial"}, layout=widgets.Layout(width=width))
