from __future__ import annotations

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.http import api_user
from usage.selectors import usage_summary

from .selectors import billing_status


@api_view(["GET"])
def status(request: Request) -> Response:
    """The caller's tier, subscription status, billing period and cancel_at_period_end."""
    user = api_user(request)
    tier = usage_summary(user=user).tier
    return Response(billing_status(user=user, tier=tier).as_dict())
