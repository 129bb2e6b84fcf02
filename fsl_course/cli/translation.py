"""The Chinese edition's commands of ``fsl-course`` (``fsl_course.translation`` does the work):
``translate status`` says which text cells are translated, missing, stale or orphaned; ``translate build``
writes the Chinese notebooks into notebooks/zh/; ``translate stamp`` records that updated translations match
the current English text."""

from __future__ import annotations

from pathlib import Path


def _chapter(name: str) -> Path:
    """A notebook named by its path, file name, stem or two-digit number."""
    from fsl_course import translation as tr

    path = Path(name)
    if path.is_file():
        return path
    found = [p for p in tr.english_notebooks() if name in (p.name, p.stem, p.name[:2])]
    if len(found) != 1:
        raise ValueError(f"no single notebook in {tr.NOTEBOOKS} is called {name!r}")
    return found[0]


def _cmd_status(args) -> int:
    from fsl_course import translation as tr

    chapters = [_chapter(n) for n in args.notebooks] if args.notebooks else tr.english_notebooks()
    problems = 0
    for path in chapters:
        nb = tr.read_notebook(path)
        tfile = tr.translation_file(path)
        s = tr.status(nb, tr.read_translations(tfile), path.name)
        if not tfile.is_file():
            print(f"{path.name}: not translated yet ({s.cells} text cells; its translations go in "
                  f"{tfile.relative_to(tr.REPO_ROOT)}, see fsl_course/translation.py)")
            continue
        print(f"{path.name}: {len(s.current)} of {s.cells} text cells translated and current"
              + ("" if s.complete else f", {len(s.missing)} missing, {len(s.stale)} stale, "
                                       f"{len(s.orphaned)} orphaned"))
        english = tr.text_cells(nb)
        for kind, ids in (("missing", s.missing), ("stale", s.stale), ("orphaned", s.orphaned)):
            for cell_id in ids:
                print(f"  {kind}: {cell_id}")
                if args.show and kind != "orphaned":
                    print("".join(f"    | {line}\n" for line in english[cell_id].splitlines()), end="")
        problems += len(s.stale) + len(s.orphaned)
    for page in tr.english_pages():
        state = tr.page_status(page)
        where = tr.page_translation(page).relative_to(tr.REPO_ROOT)
        print(f"{page.relative_to(tr.REPO_ROOT)}: " + {
            "current": f"translated and current ({where})",
            "stale": f"STALE: the English page changed after {where} was translated (or it was never stamped)",
            "missing": f"not translated yet (its translation goes in {where}, see fsl_course/translation.py)"}[state])
        problems += state == "stale"
    made = {**tr.build(write=False), **tr.site_files()}
    outdated = [p for p, text in made.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    for p in outdated:
        print(f"{p.relative_to(tr.REPO_ROOT)} is not what the translations give: run 'fsl-course translate build'")
    if problems:
        print("stale: update the Chinese text in translations/zh/ (a page: book/zh/NAME.md), then 'fsl-course "
              "translate stamp NOTEBOOK CELL_ID' (a page: 'fsl-course translate stamp book/NAME.md'); orphaned: remove the entry (its cell is gone). 'fsl-course translate status --show' "
              "prints the current English text.")
    return 1 if (args.check and (problems or outdated)) else 0


def _cmd_build(args) -> int:
    from fsl_course import translation as tr

    made = tr.build()
    for path in made:
        nb = tr.read_notebook(tr.NOTEBOOKS / path.name)
        s = tr.status(nb, tr.read_translations(tr.translation_file(path)))
        note = "" if s.complete else f" ({len(s.missing)} cells marked untranslated, {len(s.stale)} out of date)"
        print(f"wrote {path.relative_to(tr.REPO_ROOT)}{note}")
    if not made:
        print("no notebook has a translation in translations/zh/ yet")
    for path, text in tr.site_files().items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(tr.REPO_ROOT)} (the Chinese site's, from book/{path.name})")
    return 0


def _cmd_stamp(args) -> int:
    from fsl_course import translation as tr

    if args.notebook.endswith(".md"):  # a page of the book: book/NAME.md, translated whole in book/zh/NAME.md
        if args.cells:
            raise ValueError("a page is stamped whole: 'fsl-course translate stamp book/NAME.md', no cell ids")
        page = Path(args.notebook).resolve()
        if page not in tr.english_pages():
            raise ValueError(f"{args.notebook} is not one of the book's pages in book/_toc.yml")
        written = tr.stamp_page(page)
        print(f"{written.relative_to(tr.REPO_ROOT)}: marked as translated from the current {args.notebook}")
        return 0
    if not args.cells:
        raise ValueError("name the cells whose translation is now current: 'fsl-course translate stamp NOTEBOOK "
                         "CELL_ID ...'")
    path = _chapter(args.notebook)
    done = tr.stamp(path, args.cells)
    print(f"{tr.translation_file(path).relative_to(tr.REPO_ROOT)}: {', '.join(done)} marked as translated from "
          "the current English text; run 'fsl-course translate build'")
    return 0


def add_commands(sub) -> None:
    """Add ``translate`` (status, build, stamp) to the ``fsl-course`` sub-command parsers."""
    from fsl_course.cli.parsing import HelpFormatter, add_command

    t = add_command(sub, "translate", "the Chinese edition: notebooks (notebooks/zh/), generated from the English ones "
                    "and the translations in translations/zh/: status, build, stamp")
    actions = t.add_subparsers(dest="action", required=True, help="what to do")
    s = actions.add_parser("status", help="which text cells are translated, missing, stale or orphaned",
                           formatter_class=HelpFormatter)
    s.add_argument("notebooks", nargs="*", help="notebooks (path, name or number such as 01; default: all)")
    s.add_argument("--show", action="store_true", help="print the English text of missing and stale cells")
    s.add_argument("--check", action="store_true",
                   help="exit with status 1 if a translation is stale or orphaned or notebooks/zh/ is out of date")
    s.set_defaults(func=_cmd_status)
    b = actions.add_parser("build", help="write the Chinese notebooks into notebooks/zh/",
                           formatter_class=HelpFormatter)
    b.set_defaults(func=_cmd_build)
    st = actions.add_parser("stamp", help="after updating translations: mark them as made from the current "
                            "English text", formatter_class=HelpFormatter)
    st.add_argument("notebook", help="the notebook (path, name or number such as 01), or a page of the book "
                    "(book/NAME.md, whose translation book/zh/NAME.md is stamped whole)")
    st.add_argument("cells", nargs="*", help="the ids of the cells whose translation is now current")
    st.set_defaults(func=_cmd_stamp)
