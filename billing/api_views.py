from __future__ import annotations

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from usage.services import usage_summary

from .selectors import billing_status


@api_view(["GET"])
def status(request: Request) -> Response:
    """The caller's tier, subscription status, billing period and cancel_at_period_end."""
    tier = usage_summary(user=request.user).tier
    return Response(billing_status(user=request.user, tier=tier).as_dict())
