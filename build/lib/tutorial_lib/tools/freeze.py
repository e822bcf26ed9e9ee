"""``python -m tutorial_lib.tools.freeze``: write the book's frozen texts from the running Python.

The book reads its text from the package, never from the Python it runs on: the language
reference (``pydoc_data.topics``) and the standard library's source differ with every Python
release (3.10: 458,995 characters of reference, 3.11: 465,048, 3.12: 492,233, 3.13: 510,664),
and a tokenizer built on 3.13's text has a 95th character that the shipped models never saw.
So the text was frozen once, on Python 3.11.7, into ``tutorial_lib/corpus/``:

- ``python_reference.txt``  the reference topics, joined and normalised (``data.load_corpus``)
- ``code/<module>.txt``     the source of ``data.CODE_MODULES``, normalised (``data.load_code``)
- ``manifest.json``         each file's fingerprint and the Python it came from
- ``LICENSE.txt``           the Python licence (PSF), which covers both texts

Running this command on another Python changes the text, and with it the tokenizer and every
shipped model: they must then be rebuilt (``python -m tutorial_lib.pretrained ...``). It
refuses to overwrite a different text unless given ``--force``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import sysconfig
from pathlib import Path

from tutorial_lib import data


def texts() -> dict[str, str]:
    """The texts to freeze, from the running Python: {file name under corpus/: text}."""
    from pydoc_data.topics import topics

    out = {data.REFERENCE_FILE: data.normalise("\n\n".join(topics[k] for k in sorted(topics)))}
    for name in data.CODE_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not (spec.origin or "").endswith(".py"):
            raise ValueError(f"{name!r} is not a pure-Python module of this installation")
        out[f"code/{name}.txt"] = data.normalise(Path(spec.origin).read_text(encoding="utf-8"))
    return out


def freeze(directory: Path = data.CORPUS_DIR, force: bool = False) -> dict:
    """Write :func:`texts`, their manifest and the licence into ``directory``; return the manifest."""
    new = texts()
    manifest = {"python": sys.version.split()[0], "source": "pydoc_data.topics and the standard library's source",
                "licence": "LICENSE.txt (Python Software Foundation License Version 2, and 0BSD for code "
                           "in the documentation)",
                "fingerprints": {name: data.corpus_fingerprint(text) for name, text in sorted(new.items())}}
    old = directory / "manifest.json"
    if old.is_file() and not force:
        recorded = json.loads(old.read_text(encoding="utf-8"))["fingerprints"]
        if recorded != manifest["fingerprints"]:
            raise SystemExit(f"this Python ({manifest['python']}) gives other texts than the frozen ones; "
                             "rerun with --force to replace them, then rebuild every shipped model")
    for name, text in new.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    licence = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    shutil.copy(licence, directory / "LICENSE.txt")
    old.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.tools.freeze", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="replace frozen texts that differ")
    args = parser.parse_args(argv)
    manifest = freeze(force=args.force)
    print(f"froze {len(manifest['fingerprints'])} texts from Python {manifest['python']} into {data.CORPUS_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
