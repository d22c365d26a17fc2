"""iCalendar exports and subscription feeds through the API on SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from werkzeug.test import EnvironBuilder

from clinic_shared.testing.clock import ManualClock

from ..conftest import Api, Catalogue
from .test_api import booking

PUBLIC_URL = "http://127.0.0.1:8001"  # scheduling's public address by default (SCHEDULING_PUBLIC_URL)


def events_in(body: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def test_an_appointment_as_ics_keeps_its_uid_and_bumps_the_sequence_on_every_change(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("ics@example.test")
    appointment = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock)).json
    path = f"/appointments/{appointment['id']}/calendar.ics"
    first = api.client.get(path, headers=headers)
    assert first.status_code == 200
    assert first.mimetype == "text/calendar"
    [event] = events_in(first.data)
    assert str(event["UID"]) == f"{appointment['id']}@ims-clinic"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART").tzinfo.key == "America/Vancouver"
    assert b"BEGIN:VTIMEZONE" in first.data

    later = (clock.now() + timedelta(hours=50)).isoformat()
    api.client.post(
        f"/appointments/{appointment['id']}/reschedule", headers=headers, json={"starts_at": later}
    )
    api.client.post(f"/appointments/{appointment['id']}/cancel", headers=headers, json={})
    [cancelled] = events_in(api.client.get(path, headers=headers).data)
    assert str(cancelled["UID"]) == str(event["UID"])
    assert cancelled["SEQUENCE"] == 2
    assert str(cancelled["STATUS"]) == "CANCELLED"


def test_a_feed_url_works_without_a_bearer_token_until_it_is_revoked(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    _, patient = api.register_patient("feed@example.test")
    _, other = api.register_patient("other-feed@example.test")
    mine = api.client.post("/appointments", headers=patient, json=booking(catalogue, clock)).json
    api.client.post("/appointments", headers=other, json=booking(catalogue, clock, hours_ahead=72))
    created = api.client.post("/calendar-feeds", headers=patient, json={"owner_kind": "patient"})
    assert created.status_code == 201, created.json
    url = created.json["url"].removeprefix(PUBLIC_URL)
    assert len(created.json["token"]) >= 40
    feed = api.client.get(url)
    assert feed.status_code == 200
    assert [str(e["UID"]) for e in events_in(feed.data)] == [f"{mine['id']}@ims-clinic"]

    practitioner_feed = api.client.post(
        "/calendar-feeds",
        headers=admin,
        json={"owner_kind": "practitioner", "owner_id": catalogue.ims_practitioner_id},
    ).json
    assert len(events_in(api.client.get(practitioner_feed["url"].removeprefix(PUBLIC_URL)).data)) == 2
    assert (
        api.client.post(
            "/calendar-feeds",
            headers=patient,
            json={"owner_kind": "practitioner", "owner_id": catalogue.assessor_id},
        ).status_code
        == 403
    )

    assert api.client.post(f"/calendar-feeds/{created.json['id']}/revoke", headers=other).status_code == 404
    assert api.client.post(f"/calendar-feeds/{created.json['id']}/revoke", headers=patient).status_code == 200
    assert api.client.get(url).status_code == 404
    assert api.client.get("/feeds/not-a-real-token.ics").status_code == 404


def test_a_feed_token_is_taken_out_of_the_path_before_the_access_log_sees_it(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, patient = api.register_patient("logged-feed@example.test")
    created = api.client.post("/calendar-feeds", headers=patient, json={"owner_kind": "patient"}).json
    path = created["url"].removeprefix(PUBLIC_URL)
    # Gunicorn logs from the very environ it handed the app, once the response is sent.
    environ = EnvironBuilder(path=path, method="GET").get_environ()
    environ["RAW_URI"] = environ["REQUEST_URI"] = path
    statuses: list[str] = []
    body = b"".join(api.client.application(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert body.startswith(b"BEGIN:VCALENDAR")
    assert (environ["PATH_INFO"], environ["RAW_URI"], environ["REQUEST_URI"]) == ("/feeds/redacted",) * 3
    assert created["token"] not in repr(environ)


def test_a_feed_link_is_built_from_configuration_not_from_the_host_header(api: Api) -> None:
    _, patient = api.register_patient("host-feed@example.test")
    forged = api.client.post(
        "/calendar-feeds", headers=patient | {"Host": "evil.example"}, json={"owner_kind": "patient"}
    )
    assert forged.status_code == 201
    assert forged.json["url"].startswith(f"{PUBLIC_URL}/feeds/")
