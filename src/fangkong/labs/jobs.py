"""Background work of testing: the next round of campaigns that repeat (应检尽检 on a schedule)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError

from fangkong.jobs import queue
from fangkong.labs import campaigns


@queue.periodic
def create_due_rounds(now: datetime) -> None:
    for campaign in campaigns.due_rounds(now):
        try:
            campaigns.next_round(campaign)
        except IntegrityError:  # another worker created this round first
            continue
