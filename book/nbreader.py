"""Notebook reader for the book build: renders nbdev notebooks cleanly.

MyST-NB calls `read(text)` for every `.ipynb` (see `nb_custom_formats` in `_config.yml`). It
- removes nbdev-only cells (`#| default_exp`, any cell calling `nbdev_export`), so the build never rewrites the package;
- strips every `#|` directive line from the code shown on the page;
- maps `#| hide` to the `remove-cell` tag (executed, not shown), `#| echo: false` to `remove-input`,
  `#| output: false` to `remove-output`;
- turns `#| fig-cap: text` (nbdev's / Quarto's figure caption) into a MyST-NB figure caption for the cell's image;
- marks cells flagged `gpu` or `slow` (nbdev's `tst_flags`) and `#| eval: false` cells `skip-execution`,
  with a visible note saying why they did not run in this build;
- in a library notebook (one with `#| default_exp`), follows every `#| export` cell with the API entries
  (`sparsadv.core.report.api_doc`: signature, docstring, parameters) of the public functions and classes it defines,
  so that each library page is also the reference of its module.
"""
from __future__ import annotations
import ast
import re
import nbformat

SKIP_FLAGS = ('gpu', 'slow')  # keep in step with `tst_flags` in settings.ini
_DIRECTIVE = re.compile(r'^\s*#\|\s?(.*)$')


def _directives(source: str) -> tuple[list[str], str]:
    "Split the leading `#|` lines of a code cell from the rest."
    lines = source.splitlines()
    found, i = [], 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if m: found.append(m.group(1).strip()); i += 1
        elif not lines[i].strip() and not found: i += 1
        else: break
    return found, '\n'.join(lines[i:])


def _note(text: str):
    return nbformat.v4.new_markdown_cell(f":::{{note}}\n{text}\n:::")


def public_names(body: str) -> list[str]:
    "The public functions and classes an exported cell defines, in order."
    try: tree = ast.parse(body)
    except SyntaxError: return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith('_')]


def _api_cell(names: list[str]):
    cell = nbformat.v4.new_code_cell('\n'.join(f'display(_api_doc({n}))' for n in names))
    cell.metadata['tags'] = ['remove-input']
    return cell


def transform(nb):
    "Return `nb` with nbdev directives turned into Jupyter Book tags (see module docstring)."
    library = any(c.cell_type == 'code' and re.match(r'\s*#\|\s*default_exp\b', c.source) for c in nb.cells)
    cells = []
    if library:
        setup = nbformat.v4.new_code_cell('from sparsadv.core.report import api_doc as _api_doc\nfrom IPython.display import display')
        setup.metadata['tags'] = ['remove-cell']
        cells.append(setup)
    for cell in nb.cells:
        if cell.cell_type != 'code':
            cells.append(cell); continue
        directives, body = _directives(cell.source)
        words = [d.split(':')[0].split()[0] if d else '' for d in directives]
        if 'default_exp' in words or 'nbdev_export' in body:
            continue
        tags = list(cell.metadata.get('tags', []))
        norm = [d.replace(' ', '') for d in directives]
        if 'hide' in words or 'include:false' in norm: tags.append('remove-cell')
        if 'echo:false' in norm: tags.append('remove-input')
        if 'output:false' in norm: tags.append('remove-output')
        flags = [w for w in words if w in SKIP_FLAGS]
        if flags or 'eval:false' in norm:
            tags.append('skip-execution')
            why = (f"needs a GPU or a long run (flag `{flags[0]}`)" if flags else "is marked not to be evaluated")
            cells.append(_note(f"The next cell {why}; it was **not executed** in this build. "
                               "Run the notebook on a GPU (e.g. Colab, `SPARSADV_PROFILE=paper`) to execute it."))
        caps = [d.split(':', 1)[1].strip().strip('"\'') for d in directives if d.replace(' ', '').startswith('fig-cap:')]
        if caps: cell.metadata['mystnb'] = {'figure': {'caption': caps[0]}}
        cell.source = body
        if tags: cell.metadata['tags'] = sorted(set(tags))
        cells.append(cell)
        names = public_names(body) if library and 'export' in words else []
        if names: cells.append(_api_cell(names))
    nb.cells = cells
    return nb


def read(text: str, **kwargs):
    "MyST-NB reader: parse an `.ipynb` string and apply `transform`."
    return transform(nbformat.reads(text, as_version=4))


def _no_figure_numbers(app, config):
    # Captions name the paper's figures themselves ("Fig 1: ..."); an automatic "Fig. N" before them would count the
    # page's images instead. `numfig: false` in _config.yml is not enough: sphinx-jupyterbook-latex sets numfig back
    # to True for every builder when the config is read, so this runs after it (priority 900 > the default 500).
    config.numfig = False


def setup(app):
    "Sphinx extension hook (the module is loaded as a local extension so that `read` is importable)."
    app.connect('config-inited', _no_figure_numbers, priority=900)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
