"""The state of a proposal a worker is reading (barème or class split), polled by its page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRefresh

from accounts.http import AuthenticatedHttpRequest

from .. import selectors


@login_required
@require_GET
def proposal_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The status fragment while the proposal is in flight; once it is ready or failed, the page
    reloads itself and shows the proposal (or the reason) as it does without JavaScript."""
    proposal = selectors.proposal_get(user=request.user, pk=pk)
    if proposal.waiting:
        return render(request, "grading/proposal_wait.html#status", {"proposal": proposal})
    return HttpResponseClientRefresh()
