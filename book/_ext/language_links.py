"""Each page links to the same page in the other language (English <-> Chinese), at the top of the article.

The two sites are built from the same repository (``bash course.sh book``): the English one into
``book/_build/html/`` and the Chinese one into ``book/_build/html/zh/``. A Chinese document is the English
document's path with ``zh/`` before its file name (``notebooks/05_prototypical_networks`` <->
``notebooks/zh/05_prototypical_networks``, ``book/intro`` <-> ``book/zh/intro``; see
``fsl_course.translation``), so the link is computed, never listed by hand. The configuration value
``course_language`` (``en`` by default, ``zh`` in ``book/zh/_config.yml``) says which site is being built.
The link is an ``<a class="language-link" hreflang=...>`` at the start of the article, and the page's head gets a
``<link rel="alternate" hreflang=...>``; book/test_site.py checks that every link resolves, in both directions.
"""

from __future__ import annotations

import posixpath

#: For each site: the other language's code, its name as its readers write it, and where its root is.
OTHER = {
    "en": {"code": "zh", "hreflang": "zh-CN", "label": "中文", "title": "本页的中文版", "root": "zh/"},
    "zh": {"code": "en", "hreflang": "en", "label": "English", "title": "This page in English", "root": "../"},
}


def counterpart(pagename: str, language: str) -> str:
    """The other site's document for ``pagename`` of the ``language`` site (Sphinx's own pages, such as
    ``genindex`` and ``search``, have no folder and are at the same place in both)."""
    folder, _, name = pagename.rpartition("/")
    if not folder:
        return pagename
    if language == "en":
        return f"{folder}/zh/{name}"
    return f"{folder.removesuffix('/zh')}/{name}"


def link_target(pagename: str, language: str) -> str:
    """The relative address, from ``pagename``'s HTML file, of its counterpart in the other site."""
    up = "../" * pagename.count("/")
    return posixpath.normpath(f"{up}{OTHER[language]['root']}{counterpart(pagename, language)}.html")


def _add_link(app, pagename, templatename, context, doctree) -> None:
    language = app.config.course_language
    if language not in OTHER or "body" not in context:
        return
    other = OTHER[language]
    href = link_target(pagename, language)
    context["body"] = (f'<p class="language-link"><a class="language-link" hreflang="{other["hreflang"]}" '
                       f'lang="{other["hreflang"]}" href="{href}" title="{other["title"]}">{other["label"]}</a></p>\n'
                       + context["body"])
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{other["hreflang"]}" href="{href}" />')


def setup(app):
    app.add_config_value("course_language", "en", "html")
    app.connect("html-page-context", _add_link)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
