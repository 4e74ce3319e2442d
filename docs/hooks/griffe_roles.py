"""A griffe extension for the docs build: docstrings' reStructuredText roles as Markdown.

omnimsg's docstrings are Google style, and name other objects the way Sphinx does
(``:func:`omnimsg.decide```, ``:class:`~omnimsg.policy.Decision```). mkdocstrings reads
Markdown, so each role becomes a code span (``decide`` for the ``~`` form, the whole
path otherwise) wrapped in an optional cross-reference: a link where the reference
shows the object, plain code where it does not (the standard library, a private
helper). A paragraph ending in ``::`` (a literal block follows) ends in ``:``. Only
the text shown changes; the source is not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*")


def _qualified(target: str, obj: griffe.Object | None) -> str:
    """``target`` as a full path, when it is a name relative to ``obj``'s class or module."""
    if obj is None or target.startswith("omnimsg."):
        return target
    first = target.split(".", 1)[0]
    scopes: list[griffe.Object | None] = [obj.parent] if obj.is_function else [obj]
    scopes += [obj.module, obj.module.parent]
    for scope in scopes:
        if isinstance(scope, griffe.Object) and first in scope.members:
            return f"{scope.path}.{target}"
    return target


def markdown(text: str, obj: griffe.Object | None = None) -> str:
    """``text`` with its roles as linked code spans and its ``::`` markers as ``:``."""

    def role(match: re.Match[str]) -> str:
        short, target = match.groups()
        target = target.strip().removesuffix("()")
        shown = target.rsplit(".", 1)[-1] if short else target
        if not _IDENTIFIER.fullmatch(target):
            return f"`{shown}`"
        path = _qualified(target, obj)
        return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

    return _LITERAL.sub(":", _ROLE.sub(role, text))


def _is_enum(cls: griffe.Object | None) -> bool:
    if not isinstance(cls, griffe.Class):
        return False
    return any(str(base).rsplit(".", 1)[-1].endswith("Enum") for base in cls.bases)


def member_words(value: str) -> str:
    """What an enum member without a docstring shows: its value, and its catalogue words.

    A reason code's member (``Reason.TEMPLATE_REQUIRED``) reads the rule it cites and
    its words from :mod:`omnimsg.policy.catalogue`, so that the reference and
    ``omnimsg explain`` never disagree.
    """
    from omnimsg.policy.catalogue import UnknownRuleError, reason

    code = value.strip("'\"")
    try:
        entry = reason(code)
    except UnknownRuleError:
        return f"``{value}``"
    cited = ", ".join(entry.rules)
    return f"``{value}``: {entry.words}" + (f" ({cited})." if cited else ".")


class SphinxRoles(griffe.Extension):
    """Rewrite each object's docstring with :func:`markdown` once it is loaded.

    An enum member without a docstring gets one (:func:`member_words`), so that the
    reference lists every value a user can store and match on.
    """

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, or give an enum member one."""
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value, obj)
        elif isinstance(obj, griffe.Attribute) and obj.value is not None and _is_enum(obj.parent):
            obj.docstring = griffe.Docstring(member_words(str(obj.value)), parent=obj)
