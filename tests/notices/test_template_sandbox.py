"""Seller templates run sandboxed (issue 13, item 11): they read what they are given, nothing else.

Each escape below is a known way out of an unsandboxed Jinja template (to ``os``, to every loaded
class, to the config); each is refused with a ``NoticeError`` naming the sandbox, so the one
notice fails alone while the packaged templates keep working.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notices.render import NoticeRenderer
from tests.notices.conftest import make_context
from tracker.errors import NoticeError
from tracker.model import Milestone

ESCAPES = {
    "class walk to every loaded class": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "function globals to os": "{{ cycler.__init__.__globals__.os.getcwd() }}",
    "globals of a built-in helper": "{{ lipsum.__globals__['os'].getcwd() }}",
    "the template's private context": "{{ self._TemplateReference__context.keys() | list }}",
    "format-string attribute walk": "{{ '{0.__class__.__mro__}'.format(lang) }}",
    "changing a list": "{% set xs = ['wait'] %}{{ xs.append('refund') }}",
    "changing a dict": "{% set d = {} %}{{ d.update(refund=1) }}",
}


@pytest.mark.parametrize("template", ESCAPES.values(), ids=ESCAPES.keys())
def test_sandbox_escapes_are_refused(tmp_path: Path, template: str) -> None:
    (tmp_path / "shipped.txt.j2").write_text(template, "utf-8")
    renderer = NoticeRenderer(overrides_dir=tmp_path)
    with pytest.raises(NoticeError, match="refused by the sandbox"):
        renderer.render(make_context())


def test_a_seller_template_still_reads_what_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "shipped.txt.j2").write_text(
        "{{ notice.subject }} / {{ ctx.tracking_number }} / {{ lang | upper }}"
        " / {{ ctx.choices | join(', ') or 'none' }}",
        "utf-8",
    )
    context = make_context()
    rendered = NoticeRenderer(overrides_dir=tmp_path).render(context)
    choices = ", ".join(context.choices) or "none"
    expected = f"{rendered.subject} / {context.tracking_number} / EN / {choices}\n"
    assert rendered.text == expected


@pytest.mark.parametrize("escape", ESCAPES.values(), ids=ESCAPES.keys())
def test_escapes_are_refused_after_the_same_objects_were_read_many_times(
    tmp_path: Path, escape: str
) -> None:
    """The renderer remembers the sandbox's verdict per type and attribute: reading the same
    objects' safe attributes many times first must not let an escape through."""
    safe = "{{ notice.subject }} {{ ctx.tracking_number }} {{ lang.upper() }} {{ [1].index(1) }}"
    (tmp_path / "shipped.txt.j2").write_text(safe, "utf-8")
    (tmp_path / "delivered.txt.j2").write_text(safe + escape, "utf-8")
    renderer = NoticeRenderer(overrides_dir=tmp_path)
    for _ in range(20):
        renderer.render(make_context())
    with pytest.raises(NoticeError, match="refused by the sandbox"):
        renderer.render(make_context(Milestone.DELIVERED))
