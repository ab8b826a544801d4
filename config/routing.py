"""Websocket URLs, beside urls.py."""

from __future__ import annotations

from django.urls import re_path

from core.consumers import GroupEventsConsumer

websocket_urlpatterns = [
    re_path(r"^ws/events/(?P<group>[a-z]+-\d+)/$", GroupEventsConsumer.as_asgi()),
]
