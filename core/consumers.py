from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .realtime import realtime_user_owns_group


class GroupEventsConsumer(AsyncWebsocketConsumer):
    """Streams a group's events to a logged-in user who owns the group.

    Fragments are sent as HTML text frames (what the htmx ws extension swaps);
    events without HTML are sent as JSON.
    """

    async def connect(self) -> None:
        self.group = self.scope["url_route"]["kwargs"]["group"]
        user = self.scope.get("user")
        allowed = await database_sync_to_async(realtime_user_owns_group)(user=user, group=self.group)
        if not allowed:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        # Clients only listen; anything they send is ignored.
        return

    async def realtime_event(self, event: dict) -> None:
        if event.get("html"):
            await self.send(text_data=event["html"])
        else:
            await self.send(text_data=json.dumps(event.get("data", {})))
