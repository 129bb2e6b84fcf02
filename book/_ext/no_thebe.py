"""Keep sphinx-thebe off the pages: the book has no live-code (Thebe) button.

Jupyter Book 1 always loads the sphinx_thebe extension, which adds to every page an inline script (declared twice
on each page with Sphinx 7, a script error) pointing at thebe on unpkg.com, and its loader. With
``launch_buttons.thebe: false`` none of that is used, so this extension disconnects sphinx-thebe's event
handlers: the pages load nothing of it, and nothing from a CDN.
"""

from __future__ import annotations


def _disconnect_thebe(app, config) -> None:
    if (config.html_theme_options or {}).get("launch_buttons", {}).get("thebe"):
        return  # Thebe asked for: leave it alone
    for listeners in app.events.listeners.values():
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    # its stylesheet, registered at setup, would otherwise be linked but (its folder disconnected) missing
    app.registry.css_files = [(name, attrs) for name, attrs in app.registry.css_files if "thebe" not in name]


def setup(app):
    app.connect("config-inited", _disconnect_thebe)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
