"""What the clinic admin's set-up pages share: the clinic set up, a page's rendering, forms sent once, the
API's refusals said beside their fields, and the readers of a week's hours and of a range of days.

``admin_page`` wraps each view: admins only, and the clinic set up here comes as the view's first argument
(the admin's own clinic, or the one an organisation-wide admin picked with ``?clinic=``; with none picked,
the page to choose one).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from types import TracebackType
from typing import Any, Concatenate, ParamSpec

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.domain.clinic_setup import WEEKDAYS, HoursProblem, WeekAnswer, field_name, read_week
from web.domain.waitlist import read_date
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.entrypoints.i18n import gettext, locale
from web.service_layer import staff_admin, staff_day

ADMIN = "admin"
DATE_PROBLEMS = {
    "incomplete": N_("The date must include a day, a month and a year"),
    "not_a_date": N_("The date must be a real date, like 27 3 2026"),
}
REASON_TOO_LONG = N_("The reason must be 200 characters or fewer")
ApiFields = Mapping[str, tuple[str, str]]
P = ParamSpec("P")


@dataclass(frozen=True)
class ClinicPage:
    """The clinic set up on this page; ``keep``: the query that keeps an organisation-wide admin's pick."""

    settings: staff_admin.ClinicSettings
    keep: dict[str, Any] = field(default_factory=dict)
    choices: list[staff_day.ClinicChoice] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.settings.id

    def url(self, endpoint: str, **values: Any) -> str:
        """A page of this clinic ('.closures': this blueprint's)."""
        return url_for(endpoint, **values, **self.keep)

    def render(self, template: str, status: int = 200, *, notices: bool = True, **context: Any) -> Response:
        """A set-up page: "Clinic" stays the navigation's current area; ``notices``: the "done" ones shown."""
        if notices:
            context["saved"] = get_flashed_messages(category_filter=["done"])
        body = render_template(
            template, current_area="staff_admin.index", clinic=self.settings, keep=self.keep, **context
        )
        return Response(body, status=status, mimetype="text/html")


def chosen_clinic() -> ClinicPage | list[staff_day.ClinicChoice]:
    """The clinic set up here (the admin's own, or the one an organisation-wide admin picked), or the
    clinics to choose from."""
    signed = signed_in()
    if signed.clinic_id:
        return ClinicPage(staff_admin.clinic(apis(), signed, signed.clinic_id))
    choices = staff_day.clinics(apis(), signed)
    chosen = request.values.get("clinic")
    if not any(c.id == chosen for c in choices):
        chosen = choices[0].id if len(choices) == 1 else None
    if chosen is None:
        return choices
    return ClinicPage(staff_admin.clinic(apis(), signed, chosen), {"clinic": chosen}, choices)


def admin_page(
    choose: str | None = None,
) -> Callable[[Callable[Concatenate[ClinicPage, P], Response]], Callable[P, Response]]:
    """An admin's set-up view, given the clinic first; with no clinic picked yet, the list to pick one,
    which leads to ``choose`` (the view's own endpoint when None)."""

    def decorate(view: Callable[Concatenate[ClinicPage, P], Response]) -> Callable[P, Response]:
        @wraps(view)
        def with_clinic(*args: P.args, **kwargs: P.kwargs) -> Any:
            found = chosen_clinic()
            if not isinstance(found, ClinicPage):
                return render_template(
                    "staff/choose_clinic.html", clinics=found, target=choose or request.endpoint
                )
            return view(found, *args, **kwargs)

        return staff_required(ADMIN)(with_clinic)

    return decorate


def once(action: Callable[[], Response], done: str) -> Response:
    """The form's action, for its first submission only; a repeat goes to ``done``."""
    return submit_once(request.form.get(FORM_TOKEN_FIELD), action, already_done=done)


def saved_and_back(notice: str, done: str) -> Response:
    """Say what was done (translated already) and show the page again."""
    flash(notice, "done")
    return redirect(done, 303)


def remove_once(remove: Callable[[], Any], notice: str, done: str) -> Response:
    """A remove button: removed already (by someone else, or a repeat) is as good as removed, since the
    list says how it is now."""

    def action() -> Response:
        try:
            remove()
        except ApiError as error:
            if error.status != 404:
                raise
        return saved_and_back(notice, done)

    return once(action, done)


class ApiRefusal:
    """``with ApiRefusal(form, fields, fallback):`` around an API call: a refusal with one of ``statuses``
    becomes a sentence beside its field (``apply_api_error``), or ``conflict`` above the form for a 409;
    the form is then not ok. ``unless``: refusals that are still errors. Anything else propagates."""

    def __init__(
        self,
        form: Form,
        fields: ApiFields | Callable[[ApiError], ApiFields],
        fallback: str,
        *,
        statuses: Container[int] = (422,),
        conflict: str | None = None,
        unless: Callable[[ApiError], bool] | None = None,
    ) -> None:
        self.form, self.fields, self.fallback = form, fields, fallback
        self.statuses, self.conflict, self.unless = statuses, conflict, unless

    def __enter__(self) -> ApiRefusal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        if not isinstance(error, ApiError) or error.status not in self.statuses:
            return False
        if self.unless is not None and self.unless(error):
            return False
        if error.status == 409 and self.conflict is not None:
            self.form.error("_form", self.conflict)
        else:
            fields = self.fields(error) if callable(self.fields) else self.fields
            apply_api_error(self.form, error, fields, self.fallback)
        return True


# --- a week's hours -----------------------------------------------------------------------------------


def day_name(weekday: int) -> str:
    return str(locale().days["format"]["wide"][weekday])


def week_context() -> dict[str, Any]:
    """What the week's table (``admin.week_table``) needs beside the form."""
    return {"days": [(weekday, day_name(weekday)) for weekday in WEEKDAYS], "field_name": field_name}


def read_week_form(problems: Mapping[HoursProblem, str]) -> tuple[Form, WeekAnswer]:
    """The week's table as sent, each problem said with ``problems`` beside its field."""
    values = {key: value.strip() for key, value in request.form.items() if key != "csrf_token"}
    form = Form(values=values)
    answer = read_week(values)
    for name, (problem, weekday) in answer.problems.items():
        day = day_name(weekday) if weekday is not None else ""
        form.errors.setdefault(name, gettext(problems[problem], day=day))
    return form, answer


# --- dates --------------------------------------------------------------------------------------------


def read_form_date(form: Form, prefix: str) -> tuple[date | None, tuple[str, ...]]:
    """The date of the day/month/year boxes ``{prefix}_day`` ...; or None, its parts in error."""
    data = form.data if form.data else form.values
    answer = read_date(*(str(data.get(f"{prefix}_{part}", "")) for part in ("day", "month", "year")))
    if answer.value is not None:
        return answer.value, ()
    wrong = answer.wrong_parts or ("day", "month", "year")
    form.error(f"{prefix}_{wrong[0]}", DATE_PROBLEMS.get(str(answer.problem), DATE_PROBLEMS["incomplete"]))
    return None, wrong


class DayRangeForm(Schema):
    """The ``starts_`` and ``ends_`` date boxes of a range of days (a closure, time off)."""

    starts_day = fields.String(load_default="")
    starts_month = fields.String(load_default="")
    starts_year = fields.String(load_default="")
    ends_day = fields.String(load_default="")
    ends_month = fields.String(load_default="")
    ends_year = fields.String(load_default="")


@dataclass
class DayRange:
    """The first and last days of the ``starts_`` and ``ends_`` boxes; ``wrong``: their parts in error."""

    first: date | None
    last: date | None
    wrong: dict[str, tuple[str, ...]]


def read_day_range(form: Form, backwards: str) -> DayRange:
    """The range of days sent; ``backwards``: the sentence when the last day is before the first."""
    first, first_wrong = read_form_date(form, "starts")
    last, last_wrong = read_form_date(form, "ends")
    if first and last and last < first:
        last_wrong = ("day", "month", "year")
        form.error("ends_day", backwards)
    return DayRange(first, last, {"starts": first_wrong, "ends": last_wrong})


def add_day_range(
    schema: DayRangeForm,
    *,
    backwards: str,
    api_last_day: str,
    fallback: str,
    add: Callable[[date, date, str], object],
    notice: Callable[[date, date], str],
    page: Callable[[Form, dict[str, tuple[str, ...]], int], Response],
    done: str,
) -> Response:
    """Add the range of days sent (a closure, time off) and its reason with ``add(first, last, reason)``,
    then say ``notice(first, last)``; a mistake (``backwards``: the last day before the first; the API's
    ``api_last_day`` field, or ``fallback``) shows ``page`` again beside the field to fix."""
    form = parse_form(schema, request.form)
    days = read_day_range(form, backwards)
    first, last = days.first, days.last
    if form.ok and first and last:
        fields = {api_last_day: ("ends_day", backwards), "reason": ("reason", REASON_TOO_LONG)}
        with ApiRefusal(form, fields, fallback):
            add(first, last, str(form.data.get("reason") or ""))
        if form.ok:
            return saved_and_back(notice(first, last), done)
    return page(form, days.wrong, 422)
