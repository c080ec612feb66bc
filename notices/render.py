"""Render a notice: subject, plain text and HTML, in the buyer's language, from a ``NoticeContext``.

Rendering is pure: the same context always gives the same notice, so previews, tests and the daemon
see identical output. Seller overrides (templates and strings) are checked when the renderer is
built, so a broken override fails at start-up with a ``ConfigError`` instead of at 3 a.m.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from notices.compose import Composer, ExplainFn, one_line
from notices.context import NoticeContext
from notices.countries import choose_language, national_post_url
from notices.languages import require
from notices.strings import Catalog
from tracker.errors import ConfigError, NoticeError
from tracker.model import Milestone

__all__ = [
    "NoticeRenderer",
    "RenderedNotice",
    "choose_language",
    "national_post_url",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class RenderedNotice:
    """A finished notice: a one-line subject and the two bodies of a multipart/alternative email."""

    subject: str
    text: str
    html: str


#: what jinja2's sandbox wraps instead of returning (``SandboxedEnvironment.wrap_str_format``)
_STR_FORMATS = frozenset({"format", "format_map"})
_METHODS = (types.MethodType, types.BuiltinMethodType)


class _Sandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, its verdict on each attribute worked out once.

    The sandbox's rules (``is_internal_attribute``, ``modifies_known_mutable``) look only at
    the object's type and the attribute's name, so the verdict for that pair never changes;
    checking it anew on each of a notice's hundred attribute reads cost a third of rendering
    it (bench/notices.py).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._verdicts: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """jinja2's verdict for ``type(obj)`` and ``attr``, remembered."""
        key = (type(obj), attr)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = super().is_safe_attribute(obj, attr, value)
        return verdict

    def getattr(self, obj: Any, attribute: str) -> Any:
        """An attribute already judged safe for this type is read directly: jinja2's own path
        would only add its checks, which change nothing for it unless the value is a
        ``format`` method (then jinja2's path is taken, and wraps it)."""
        if self._verdicts.get((type(obj), attribute)):
            try:
                value = getattr(obj, attribute)
            except AttributeError:
                pass  # jinja2 then tries obj[attribute]
            else:
                if not (isinstance(value, _METHODS) and value.__name__ in _STR_FORMATS):
                    return value
        return super().getattr(obj, attribute)


class NoticeRenderer:
    """Turns contexts into notices using the packaged templates and strings plus seller overrides.

    ``overrides_dir`` may hold ``notice.html.j2`` / ``notice.txt.j2`` (all kinds) or
    ``<kind>.html.j2`` / ``<kind>.txt.j2`` (one kind); ``strings_file`` is a TOML file of string
    overrides per language (see ``config/notices.example.toml``).
    """

    def __init__(
        self,
        overrides_dir: Path | None = None,
        strings_file: Path | None = None,
        *,
        explain: ExplainFn | None = None,
    ) -> None:
        if overrides_dir is not None and not overrides_dir.is_dir():
            raise ConfigError(f"notices.templates_dir: {overrides_dir} is not a directory")
        self._catalog = Catalog(strings_file)
        self._composer = Composer(self._catalog, explain)
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(TEMPLATES_DIR)]
        if overrides_dir is not None:
            loaders.insert(0, jinja2.FileSystemLoader(overrides_dir))
        # Seller templates are code we did not write: the immutable sandbox refuses attribute
        # walks to Python internals (``__class__``, ``__globals__``...) and changes to the
        # context, so a template can read what it is given and nothing else.
        self._env = _Sandbox(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2",), default_for_string=True, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._templates = {
            (kind, part): self._load(kind, part) for kind in Milestone for part in ("html", "txt")
        }

    @property
    def catalog(self) -> Catalog:
        """The strings in use, with overrides applied."""
        return self._catalog

    def _load(self, kind: Milestone, part: str) -> jinja2.Template:
        names = [f"{kind.value}.{part}.j2", f"notice.{part}.j2"]
        try:
            return self._env.select_template(names)
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or exc.name}:{exc.lineno}"
            raise ConfigError(f"template {where}: {exc.message}") from exc
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(f"no template among {names}") from exc

    def render(self, ctx: NoticeContext) -> RenderedNotice:
        """Subject, text and HTML of ``ctx``; ConfigError if the context breaks a seller rule."""
        require(ctx.language)
        body = self._composer.compose(ctx)
        variables = {"notice": body, "ctx": ctx, "lang": ctx.language}
        try:
            text = self._templates[(ctx.kind, "txt")].render(variables)
            html = self._templates[(ctx.kind, "html")].render(variables)
        except jinja2.exceptions.SecurityError as exc:
            raise NoticeError(f"template for {ctx.kind} was refused by the sandbox: {exc}") from exc
        except jinja2.UndefinedError as exc:
            raise NoticeError(f"template for {ctx.kind} uses an unknown value: {exc}") from exc
        text = _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
        return RenderedNotice(subject=one_line(body.subject), text=text, html=html)
