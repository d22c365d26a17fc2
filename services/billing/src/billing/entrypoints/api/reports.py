"""Reports for billing staff, as paginated JSON or as a whole CSV file (``.csv``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from flask import Response
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema

from billing.entrypoints.api.context import BILLING_STAFF, container
from billing.entrypoints.api.schemas.reports import (
    AgingRowSchema,
    DailyPaymentsSchema,
    OutstandingQuery,
    PeriodQuery,
    RevenueRowSchema,
)
from billing.service_layer import reports
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint("reports", __name__, url_prefix="/reports", description="Reports for billing staff")


def _page(rows: Sequence[Any], pagination: PaginationParameters) -> Sequence[Any]:
    pagination.item_count = len(rows)
    return rows[pagination.first_item : pagination.first_item + pagination.page_size]


def _csv(rows: Sequence[Any], schema: Schema, name: str) -> Response:
    dumped = schema.dump(rows, many=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(schema.fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(dumped)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@blp.route("/outstanding", methods=["GET"])
@blp.arguments(OutstandingQuery(), location="query")
@blp.response(200, AgingRowSchema(many=True), description="Balances in aging buckets (cents)")
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def outstanding(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Any]:
    with container().uow() as uow:
        return _page(
            reports.outstanding(uow, current_principal(), query["clinic_id"], query["as_of"]),
            pagination_parameters,
        )


@blp.route("/outstanding.csv", methods=["GET"])
@blp.arguments(OutstandingQuery(), location="query")
@blp.response(200, content_type="text/csv")
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def outstanding_csv(query: dict[str, Any]) -> Response:
    with container().uow() as uow:
        rows = reports.outstanding(uow, current_principal(), query["clinic_id"], query["as_of"])
    return _csv(rows, AgingRowSchema(), "outstanding")


@blp.route("/payments", methods=["GET"])
@blp.arguments(PeriodQuery(), location="query")
@blp.response(200, DailyPaymentsSchema(many=True))
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def daily_payments(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Any]:
    with container().uow() as uow:
        return _page(
            reports.daily_payments(uow, current_principal(), reports.Period(**query)), pagination_parameters
        )


@blp.route("/payments.csv", methods=["GET"])
@blp.arguments(PeriodQuery(), location="query")
@blp.response(200, content_type="text/csv")
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def daily_payments_csv(query: dict[str, Any]) -> Response:
    with container().uow() as uow:
        rows = reports.daily_payments(uow, current_principal(), reports.Period(**query))
    return _csv(rows, DailyPaymentsSchema(), "payments")


@blp.route("/revenue", methods=["GET"])
@blp.arguments(PeriodQuery(), location="query")
@blp.response(200, RevenueRowSchema(many=True))
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def revenue(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Any]:
    with container().uow() as uow:
        return _page(
            reports.revenue(uow, current_principal(), reports.Period(**query)), pagination_parameters
        )


@blp.route("/revenue.csv", methods=["GET"])
@blp.arguments(PeriodQuery(), location="query")
@blp.response(200, content_type="text/csv")
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def revenue_csv(query: dict[str, Any]) -> Response:
    with container().uow() as uow:
        rows = reports.revenue(uow, current_principal(), reports.Period(**query))
    return _csv(rows, RevenueRowSchema(), "revenue")
