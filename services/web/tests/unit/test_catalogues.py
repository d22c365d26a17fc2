"""Every message the portal shows has its French, and every catalogue loads."""

from __future__ import annotations

from web.entrypoints.catalogue_check import missing, used_messages
from web.entrypoints.i18n import load_catalogues


def test_every_message_shown_has_a_french_translation() -> None:
    absent = missing("fr")
    listed = "\n".join(f"{msgid!r} ({places[0]})" for msgid, places in sorted(absent.items()))
    assert not absent, (
        f"{len(absent)} messages lack French; run python -m web.entrypoints.catalogue_check\n{listed}"
    )


def test_the_checker_sees_template_and_python_messages() -> None:
    used = used_messages()
    assert "Sign in" in used  # a template
    assert "Enter your e-mail address" in used  # a form schema, marked with N_()


def test_catalogues_load_and_translate() -> None:
    catalogues = load_catalogues()
    assert catalogues["fr"].gettext("Sign in") != "Sign in"
    assert catalogues["en"].gettext("Sign in") == "Sign in"
