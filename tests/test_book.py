"""The book build renders nbdev notebooks cleanly and fails on any cell error."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'book'))
import nbreader  # noqa: E402
import check_html  # noqa: E402


def _nb(*sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    for src in sources:
        nb.cells.append(nbformat.v4.new_markdown_cell(src[3:]) if src.startswith('md:') else nbformat.v4.new_code_cell(src))
    return nb


def test_transform_maps_directives():
    nb = nbreader.transform(_nb('#| default_exp foo', '#| export\ndef f(): return 1', '#| hide\nx = 1',
                                '#| gpu\nraise RuntimeError("needs a GPU")', '#|eval: false\n1/0',
                                '#| hide\nimport nbdev; nbdev.nbdev_export()', 'md:# title'))
    code = [c for c in nb.cells if c.cell_type == 'code']
    # a library notebook (default_exp) gets a hidden import of api_doc first, and the API entry of f after its cell
    assert [c.source for c in code] == ['from sparsadv.core.report import api_doc as _api_doc\nfrom IPython.display import display',
                                        'def f(): return 1', 'display(_api_doc(f))', 'x = 1',
                                        'raise RuntimeError("needs a GPU")', '1/0']
    assert not any('#|' in c.source for c in code)
    assert code[0].metadata['tags'] == ['remove-cell'] and code[2].metadata['tags'] == ['remove-input']
    assert code[3].metadata['tags'] == ['remove-cell']
    assert code[4].metadata['tags'] == ['skip-execution'] and code[5].metadata['tags'] == ['skip-execution']
    notes = [c.source for c in nb.cells if c.cell_type == 'markdown' and 'not executed' in c.source]
    assert len(notes) == 2 and 'gpu' in notes[0]
    cap = nbreader.transform(_nb('#| echo: false\n#| fig-cap: "Fig 1: bars, whiskers."\nplot()')).cells[0]
    assert cap.source == 'plot()' and cap.metadata['mystnb'] == {'figure': {'caption': 'Fig 1: bars, whiskers.'}}
    assert cap.metadata['tags'] == ['remove-input']


def _build(tmp_path, *sources):
    (tmp_path / 'nbs').mkdir()
    nbformat.write(_nb('md:# A page', *sources), tmp_path / 'nbs' / 'page.ipynb')
    shutil.copy(ROOT / '_config.yml', tmp_path / '_config.yml'); shutil.copy(ROOT / 'references.bib', tmp_path / 'references.bib')
    shutil.copytree(ROOT / 'book', tmp_path / 'book')
    (tmp_path / '_toc.yml').write_text('format: jb-book\nroot: nbs/page\n')
    jb = Path(sys.executable).with_name('jupyter-book')
    return subprocess.run([str(jb), 'build', '-W', '-n', '--keep-going', str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize('case', ['ok', 'cell_error'])
def test_book_build(tmp_path, case):
    cells = ['#| export\ny = 2 + 2', '#| gpu\nraise RuntimeError("this cell must not run on a CPU build")', 'print(y)']
    if case == 'cell_error':
        cells.append('raise ValueError("a failing cell")')
    r = _build(tmp_path, *cells)
    if case == 'ok':
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        page = (tmp_path / '_build' / 'html' / 'nbs' / 'page.html').read_text()
        assert '#|' not in page and 'not executed' in page and '4' in page
    else:
        assert r.returncode != 0, 'a failing cell must fail the build'


def test_book_renders_for_a_reader(tmp_path):
    "Markdown outputs render their tables, math is served by the book, `#| fig-cap` becomes a caption."
    r = _build(tmp_path, 'md:Math: $x = D\\alpha$.',
               "from IPython.display import Markdown, display\ndisplay(Markdown('| a | b |\\n|---|---|\\n| 1 | $x^2$ |'))",
               '#| fig-cap: A caption for the figure.\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()',
               '#| echo: false\nfrom sparsadv.core.report import Table\nTable([[1.23456, 0.5]], columns=["x", "p"])')
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    html = tmp_path / '_build' / 'html'
    page = (html / 'nbs' / 'page.html').read_text()
    assert page.count('<table') == 2 and 'sparsadv-table' in page and '1.23' in page
    assert 'A caption for the figure.' in page and '<figcaption' in page and 'caption-number' not in page
    assert 'from sparsadv.core.report import Table' not in page      # echo: false hides the input
    assert check_html.check_book(html) == []                      # no CDN, math served locally, no raw tables
