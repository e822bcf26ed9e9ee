"""A small Sphinx extension for the book's site (listed under `local_extensions` in _config.yml).

Jupyter Book 1 ends up registering sphinx-thebe's inline configuration script twice, and the
second copy throws "Identifier 'THEBE_JS_URL' has already been declared" in every page's
console. This drops repeated script tags from each page, keeping the first of each.
"""

from __future__ import annotations


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for js in context.get("script_files", []):
        attributes = getattr(js, "attributes", {})
        name = getattr(js, "filename", js) or ""  # the same inline script comes as None and as ""
        key = (str(name), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    if "script_files" in context:
        context["script_files"][:] = unique  # in place: other handlers hold this list


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)  # after the others
    return {"parallel_read_safe": True, "parallel_write_safe": True}
