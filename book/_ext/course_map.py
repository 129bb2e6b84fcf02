"""The ``course-map`` directive: the introduction's table of chapters, linked to those the book contains.

The directive's body is a YAML list, one entry per planned notebook::

    ```{course-map}
    - file: notebooks/05_prototypical_networks
      title: Prototypical Networks
      teaches: class prototypes as mean embeddings, ...
      data: Omniglot
      papers: snell2017prototypical
    ```

An entry whose file is one of the book's documents (it is in ``book/_toc.yml``) links to its chapter; any other
is listed as in preparation. So a new notebook needs only its line in the table of contents.
"""

from __future__ import annotations

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

KEYS = {"file", "title", "teaches", "data", "papers"}
#: The table's own words in each site's language (``course_language``, see language_links.py).
WORDS = {"en": {"header": "| # | chapter | what it teaches | data | papers |", "planned": "*(in preparation)*"},
         "zh": {"header": "| # | 章节 | 内容 | 数据 | 论文 |", "planned": "*（准备中）*"}}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


class CourseMap(SphinxDirective):
    has_content = True

    def run(self) -> list[nodes.Node]:
        try:
            entries = yaml.safe_load("\n".join(self.content)) or []
        except yaml.YAMLError as e:
            raise self.error(f"course-map: the body is not valid YAML: {e}") from e
        if not isinstance(entries, list) or not all(isinstance(e, dict) and {"file", "title"} <= e.keys()
                                                    and e.keys() <= KEYS for e in entries):
            raise self.error(f"course-map: expected a list of mappings with keys {sorted(KEYS)} "
                             "(file and title required)")
        words = WORDS.get(getattr(self.config, "course_language", "en"), WORDS["en"])
        rows = [words["header"], "|---|---|---|---|---|"]
        for entry in entries:
            docname = entry["file"]
            number = docname.rsplit("/", 1)[-1].split("_", 1)[0]
            title = _cell(entry["title"])
            if docname in self.env.found_docs:
                chapter = f"{{doc}}`{title} </{docname}>`"
            else:
                chapter = f"{title} {words['planned']}"
            papers = ", ".join(f"{{cite:t}}`{key.strip()}`" for key in str(entry.get("papers") or "").split(",")
                               if key.strip())
            rows.append(f"| {number} | {chapter} | {_cell(entry.get('teaches', ''))} | "
                        f"{_cell(entry.get('data', ''))} | {papers} |")
        self.env.metadata[self.env.docname]["course_map"] = True  # re-read on every build (see setup)
        container = nodes.container(classes=["course-map"])
        self.state.nested_parse(StringList(rows, source=self.get_source_info()[0]), self.content_offset, container)
        return [container]


def _always_reread(app, env, added, changed, removed) -> list[str]:
    """Pages with a course map depend on the table of contents: read them again whenever anything is built."""
    return [doc for doc, meta in env.metadata.items() if meta.get("course_map") and doc in env.found_docs]


def setup(app):
    app.add_directive("course-map", CourseMap)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
