"""The book reads well in a browser: book/check_html.py passes a good page and fails each kind of bad one; the
notebook runner of the book executes notebooks into the cache that the build reads."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'book'))
import check_html  # noqa: E402
import execute  # noqa: E402

GOOD = """<html><head><script src="../_static/mathjax/tex-svg.js"></script></head><body><main>
<p>Text with a formula.</p>
<div class="cell docutils container"><div class="cell_input docutils container"><div class="highlight"><pre>r = run_fig1(profile)</pre></div></div>
<div class="cell_output docutils container"><div class="output text_html"><table class="sparsadv-table"><tr><td>1</td></tr></table></div></div></div>
</main></body></html>"""


def page(**swap):
    html = GOOD
    for a, b in swap.items(): html = html.replace(a, b)
    return html


def test_good_page_passes():
    assert check_html.check_page(GOOD, 'nbs/10_synthetic.html') == []


@pytest.mark.parametrize('bad, expect', [
    (page(**{'<p>Text with a formula.</p>': '<p>| coder | input | |---|---| | LISTA | clean |</p>'}), 'markdown table'),
    (page(**{'<p>Text with a formula.</p>': '<p>| coder | excess |</p>'}), 'markdown table'),
    (page(**{'../_static/mathjax/tex-svg.js': 'https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'}), 'CDN'),
    (page(**{'r = run_fig1(profile)': '#| echo: false\nr = run_fig1(profile)'}), 'directive'),
    (page(**{'<table class="sparsadv-table"><tr><td>1</td></tr></table>':
             '<pre>Traceback (most recent call last):\n  File "x.py"</pre>'}), 'traceback'),
    (page(**{'<table class="sparsadv-table"><tr><td>1</td></tr></table>':
             '<pre>/x/.venv/lib/python3.11/site-packages/art/utils.py:12: UserWarning: careful</pre>'}), 'warning'),
    (page(**{'<table class="sparsadv-table"><tr><td>1</td></tr></table>':
             '<pre>IProgress not found. Please update jupyter and ipywidgets.</pre>'}), 'IProgress'),
    (page(**{'output text_html': 'output stderr'}), 'stderr'),
    (page(**{'<table class="sparsadv-table"><tr><td>1</td></tr></table>': '<pre>done</pre>'}), 'without any <table>'),
])
def test_bad_page_fails(bad, expect):
    problems = check_html.check_page(bad, 'nbs/10_synthetic.html')
    assert problems and any(expect in p for p in problems), problems


def test_library_pages_need_no_table():
    no_table = page(**{'<table class="sparsadv-table"><tr><td>1</td></tr></table>': '<pre>done</pre>'})
    assert check_html.check_page(no_table, 'nbs/02_coding.html') == []


def test_check_book(tmp_path):
    (tmp_path / 'nbs').mkdir()
    (tmp_path / 'nbs' / '10_synthetic.html').write_text(GOOD)
    assert any('mathjax is missing' in p for p in check_html.check_book(tmp_path))
    (tmp_path / '_static' / 'mathjax').mkdir(parents=True)
    assert check_html.check_book(tmp_path) == []
    (tmp_path / 'nbs' / '20_claims.html').write_text(page(**{'<p>Text with a formula.</p>': '<p>| a | b |</p>'}))
    assert check_html.main([str(tmp_path)]) == 1
    assert check_html.check_book(tmp_path / 'nothing')[0].startswith('no HTML pages')


def test_execution_units():
    files = ['nbs/index', 'nbs/00_config', 'nbs/10_synthetic', 'nbs/11_images', 'nbs/12_dict_attack', 'nbs/20_claims']
    groups, last = execute.units(files, {'nbs/00_config': 5000.0})
    assert last == ['nbs/20_claims']
    assert groups[0] == ('nbs/00_config',)                     # longest expected first
    assert ('nbs/10_synthetic', 'nbs/12_dict_attack') in groups  # networks shared: one chain, in order
    assert sorted([f for g in groups for f in g] + last) == sorted(files)
    assert all('.ipynb' not in f for f in execute.toc_files()) and 'nbs/20_claims' in execute.toc_files()


def _project(root, sources: dict):
    "A tiny book in `root`: one notebook per entry of `sources` (name -> one code cell), all in its _toc.yml."
    import nbformat
    (root / 'nbs').mkdir()
    for name, src in sources.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])
        nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
        nbformat.write(nb, root / 'nbs' / f'{name}.ipynb')
    names = list(sources)
    (root / '_toc.yml').write_text(f'format: jb-book\nroot: nbs/{names[0]}\nchapters:\n'
                                   + ''.join(f'  - file: nbs/{n}\n' for n in names[1:]))


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, 'ROOT', tmp_path)
    monkeypatch.setattr(execute, 'CACHE', tmp_path / '_build' / '.jupyter_cache')
    monkeypatch.setattr(execute, 'RECORDED', tmp_path / 'book' / 'timings.json')
    return tmp_path


def test_execute_fills_the_cache_the_build_reads(tiny_book):
    import json
    from jupyter_cache import get_cache
    _project(tiny_book, {'a': 'x = 6 * 7\nx', 'b': 'print("two")', 'c': '1 + 1'})
    assert execute.main(['--jobs', '2']) == 0
    cache = get_cache(str(execute.CACHE))
    for name in 'abc':   # found by the same lookup MyST-NB makes, with the outputs of the run
        nb = cache.merge_match_into_notebook(execute.nbreader.read((tiny_book / 'nbs' / f'{name}.ipynb').read_text()))[1]
        assert nb.cells[0].outputs, name
    times = json.loads((tiny_book / '_build' / 'timings.json').read_text())
    assert set(times['seconds']) == {'nbs/a', 'nbs/b', 'nbs/c'} and times['jobs'] == 2
    assert not execute.RECORDED.exists()   # only --record writes the recorded times


def test_execute_fails_on_a_cell_error(tiny_book, capsys):
    _project(tiny_book, {'a': 'x = 1', 'b': 'raise ValueError("a failing cell")'})
    assert execute.main(['--jobs', '2']) == 1
    err = capsys.readouterr().err
    assert 'nbs/b.ipynb failed' in err and 'a failing cell' in err
