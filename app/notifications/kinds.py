"""The kinds of message Roundtable sends, and which carry a calendar invite."""

from __future__ import annotations

import enum


class MessageKind(enum.StrEnum):
    INTERVIEW_REQUESTED = "INTERVIEW_REQUESTED"  # candidate: pick a time
    ADDED_TO_INTERVIEW = "ADDED_TO_INTERVIEW"  # participants and invitees
    REQUEST_SENT = "REQUEST_SENT"  # account manager: the team sent times
    TIMES_UPDATED = "TIMES_UPDATED"
    INTERVIEW_BOOKED = "INTERVIEW_BOOKED"
    ALTERNATIVE_TIMES_REQUESTED = "ALTERNATIVE_TIMES_REQUESTED"
    INTERVIEW_CANCELLED = "INTERVIEW_CANCELLED"
    # One message per person: the booking is cancelled and new times are offered.
    INTERVIEW_RESCHEDULED = "INTERVIEW_RESCHEDULED"
    CANDIDATE_HIRED = "CANDIDATE_HIRED"
    BOOKING_REMINDER = "BOOKING_REMINDER"  # candidate: still waiting for your choice
    REMINDER_SENT = "REMINDER_SENT"  # account manager: the candidate was reminded
    CALENDAR_DISCONNECTED = "CALENDAR_DISCONNECTED"


class InviteMethod(enum.StrEnum):
    """iCalendar METHOD of the invite attached to a mail (RFC 5546)."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"
