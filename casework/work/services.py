"""The rules for community work. Every path that logs, verifies, rejects or corrects hours
comes through here, so none can skip a cap or count a minute twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError

from casework import formatting
from casework.audit.services import record
from casework.db import utcnow
from casework.enrollment.services import open_enrollment, work_refusal
from casework.errors import ConflictError, PermissionDenied, ValidationError, checking
from casework.extensions import db
from casework.households.models import Member
from casework.organizations.models import Organization, OrganizationKind
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User
from casework.work.models import COUNTED_NOWHERE, LogStatus, WorkLog, WorkSite

MINUTES_IN_DAY = 24 * 60


def _hours(minutes: int) -> str:
    return formatting.hours(minutes, "en").removesuffix(" h").split(" ")[0]


def add_site(
    actor: User,
    enterprise: Organization,
    name: str,
    place: str = "",
    kind_of_work: str = "",
) -> WorkSite:
    if enterprise.kind != OrganizationKind.PUBLIC_ENTERPRISE or enterprise.municipality_id is None:
        raise ValidationError(_("Choose a public enterprise."), "enterprise_id")
    if not policies.can_manage_sites(actor, enterprise.municipality_id):
        raise PermissionDenied()
    if not name.strip():
        raise ValidationError(_("Enter the site's name."), "name")
    site = WorkSite(
        municipality_id=enterprise.municipality_id,
        enterprise=enterprise,
        name=name.strip(),
        place=place.strip(),
        kind_of_work=kind_of_work.strip(),
    )
    db.session.add(site)
    db.session.flush()
    record(
        actor,
        "work_site.create",
        "work_site",
        site.id,
        municipality_id=site.municipality_id,
        changes={"name": site.name, "enterprise_id": enterprise.id},
    )
    return site


@dataclass(frozen=True)
class Shift:
    """A start and end (minutes after midnight), or only a duration in minutes."""

    work_date: date
    start_minute: int | None = None
    end_minute: int | None = None
    duration_minutes: int | None = None

    def minutes(self) -> int:
        if self.start_minute is not None or self.end_minute is not None:
            return self._from_to(self.start_minute, self.end_minute)
        if self.duration_minutes is None:
            raise ValidationError(
                _("Enter the start and end, or how long they worked."), "duration"
            )
        if self.duration_minutes <= 0:
            raise ValidationError(_("Enter a duration of more than zero minutes."), "duration")
        if self.duration_minutes > MINUTES_IN_DAY:
            raise ValidationError(_("A day has 24 hours."), "duration")
        return self.duration_minutes

    def _from_to(self, start: int | None, end: int | None) -> int:
        if start is None or end is None:
            raise ValidationError(_("Enter both the start and the end."), "end_time")
        if not 0 <= start < MINUTES_IN_DAY or not 0 < end <= MINUTES_IN_DAY:
            raise ValidationError(_("Enter a time of day."), "start_time")
        if end <= start:
            raise ValidationError(_("The shift must end after it starts."), "end_time")
        # A duration beside the times is a second answer to one question: it must agree.
        if self.duration_minutes is not None and self.duration_minutes != end - start:
            raise ValidationError(
                _(
                    "From the start to the end is %(worked)s, not %(duration)s.",
                    worked=_hours(end - start),
                    duration=_hours(self.duration_minutes),
                ),
                "duration",
            )
        return end - start


def _live_logs(member: Member) -> Select[WorkLog]:
    """Logs that count towards caps and overlaps: not rejected or withdrawn, not cancelled by
    a correction, and not corrections themselves."""
    corrected = select(WorkLog.reverses_id).where(WorkLog.reverses_id.is_not(None))
    return select(WorkLog).where(
        WorkLog.member_id == member.id,
        WorkLog.status.not_in(COUNTED_NOWHERE),
        WorkLog.reverses_id.is_(None),
        WorkLog.id.not_in(corrected),
    )


def _logged_minutes(live: Any, *where: Any) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(live.c.minutes), 0)).where(*where)) or 0


def _check_caps(
    member: Member, programme: Programme, live: Any, shift: Shift, minutes: int
) -> None:
    """The programme's daily and weekly caps, counting the member's live logs."""
    day = shift.work_date
    same_day = _logged_minutes(live, live.c.work_date == day)
    if same_day + minutes > programme.daily_cap_minutes:
        raise ValidationError(
            _(
                "%(name)s would work %(total)s on %(date)s; the programme allows %(cap)s a day.",
                name=member.full_name,
                total=_hours(same_day + minutes),
                date=formatting.day(day, ""),
                cap=_hours(programme.daily_cap_minutes),
            ),
            "duration" if shift.start_minute is None else "end_time",
        )
    monday = day - timedelta(days=day.weekday())
    same_week = _logged_minutes(
        live, live.c.work_date >= monday, live.c.work_date < monday + timedelta(days=7)
    )
    if same_week + minutes > programme.weekly_cap_minutes:
        raise ValidationError(
            _(
                "%(name)s would work %(total)s in the week of %(date)s; the programme allows "
                "%(cap)s a week.",
                name=member.full_name,
                total=_hours(same_week + minutes),
                date=formatting.day(monday, ""),
                cap=_hours(programme.weekly_cap_minutes),
            ),
            "work_date",
        )


def _check_overlap(member: Member, live: Any, shift: Shift) -> None:
    """Two shifts of one member may not overlap on a day (durations alone cannot)."""
    if shift.start_minute is None or shift.end_minute is None:
        return
    overlapping = db.session.scalar(
        select(func.count()).where(
            live.c.work_date == shift.work_date,
            live.c.start_minute < shift.end_minute,
            live.c.end_minute > shift.start_minute,
        )
    )
    if overlapping:
        raise ValidationError(
            _("%(name)s already has a shift at that time that day.", name=member.full_name),
            "start_time",
        )


def log_work(
    actor: User, member: Member, site: WorkSite, shift: Shift, task: str, *, today: date
) -> WorkLog:
    household = member.household
    if not policies.can_log_work(actor, household):
        raise PermissionDenied(_("This family is not in your caseload."))
    day = shift.work_date
    enrollment = open_enrollment(household)
    with checking() as checks:  # each of these at once; the caps once they all hold
        if site.municipality_id != household.municipality_id or not site.active:
            checks.refuse(_("Choose a work site of the family's municipality."), "site_id")
        if day > today:
            checks.refuse(_("Hours cannot be logged for a future date."), "work_date")
        minutes = checks.run(shift.minutes) or 0
        refusal = work_refusal(member, enrollment, day)
        if refusal is not None or enrollment is None:
            checks.refuse(refusal or _("The household has no active enrollment."), "member_id")
    if enrollment is None:  # pragma: no cover - refused above
        raise AssertionError
    # Serialise logs for one member (a row lock on PostgreSQL; SQLite holds the write lock).
    db.session.execute(select(Member.id).where(Member.id == member.id).with_for_update())
    live = _live_logs(member).subquery()
    _check_caps(member, enrollment.programme, live, shift, minutes)
    _check_overlap(member, live, shift)
    log = WorkLog(
        member_id=member.id,
        household_id=household.id,
        enrollment_id=enrollment.id,
        site=site,
        work_date=day,
        start_minute=shift.start_minute,
        end_minute=shift.end_minute,
        minutes=minutes,
        task=task.strip()[:200],
        status=LogStatus.LOGGED,
        logged_by_id=actor.id,
    )
    db.session.add(log)
    db.session.flush()
    record(
        actor,
        "work_log.create",
        "work_log",
        log.id,
        municipality_id=household.municipality_id,
        changes={"member_id": member.id, "site_id": site.id, "work_date": day, "minutes": minutes},
    )
    return log


def _decide(actor: User, log: WorkLog, target: LogStatus, reason: str = "") -> None:
    site = log.site
    if not policies.can_verify_at(actor, site.municipality_id, site.enterprise_id):
        raise PermissionDenied(_("You may confirm hours only at your own work sites."))
    if log.reverses_id is not None or log.status != LogStatus.LOGGED:
        raise ConflictError(_("These hours have been decided already."))
    result = db.session.execute(
        update(WorkLog)
        .where(WorkLog.id == log.id, WorkLog.status == LogStatus.LOGGED)
        .values(
            status=target,
            rejection_reason=reason,
            decided_by_id=actor.id,
            decided_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(_("These hours have been decided already."))
    db.session.expire(log)
    record(
        actor,
        f"work_log.{target}",
        "work_log",
        log.id,
        municipality_id=site.municipality_id,
        changes={"status": ["logged", target], "reason": reason},
    )


def verify(actor: User, log: WorkLog, *, today: date) -> WorkLog:
    _decide(actor, log, LogStatus.VERIFIED)
    return log


def reject(actor: User, log: WorkLog, reason: str, *, today: date) -> WorkLog:
    if not reason.strip():
        raise ValidationError(_("Give the reason, for the social worker."), "reason")
    _decide(actor, log, LogStatus.REJECTED, reason.strip())
    return log


def withdraw_log(actor: User, log: WorkLog, reason: str, *, today: date) -> WorkLog:
    """Its author takes back a log nobody has decided yet (the wrong person, a typo in the
    hours): the log is kept, marked withdrawn with who, when and why, and counts nowhere.
    Once decided, a log is answered by the supervisor or by a correction instead."""
    if log.logged_by_id != actor.id or not policies.can_log_work(actor, log.household):
        raise PermissionDenied(_("Only whoever logged these hours may withdraw them."))
    if log.reverses_id is not None or log.status != LogStatus.LOGGED:
        raise ConflictError(_("These hours have been decided already."))
    if not reason.strip():
        raise ValidationError(_("Give the reason for the withdrawal."), "reason")
    result = db.session.execute(
        update(WorkLog)
        .where(WorkLog.id == log.id, WorkLog.status == LogStatus.LOGGED)
        .values(
            status=LogStatus.WITHDRAWN,
            withdrawn_by_id=actor.id,
            withdrawn_at=utcnow(),
            withdrawal_reason=reason.strip(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(_("These hours have been decided already."))
    db.session.expire(log)
    record(
        actor,
        "work_log.withdraw",
        "work_log",
        log.id,
        municipality_id=log.household.municipality_id,
        changes={"status": ["logged", "withdrawn"], "reason": reason.strip()},
    )
    return log


def verify_week(actor: User, site: WorkSite, monday: date, *, today: date) -> int:
    """Confirm every pending log of the week at a site, each through ``verify``."""
    if not policies.can_verify_at(actor, site.municipality_id, site.enterprise_id):
        raise PermissionDenied(_("You may confirm hours only at your own work sites."))
    pending = db.session.scalars(
        select(WorkLog).where(
            WorkLog.site_id == site.id,
            WorkLog.status == LogStatus.LOGGED,
            WorkLog.work_date >= monday,
            WorkLog.work_date < monday + timedelta(days=7),
        )
    ).all()
    for log in pending:
        verify(actor, log, today=today)
    return len(pending)


def edit_log(actor: User, log: WorkLog, task: str, *, today: date) -> None:
    """Only a log nobody has decided yet may be changed, and only its task."""
    if not policies.can_log_work(actor, log.household):
        raise PermissionDenied()
    if log.status != LogStatus.LOGGED or log.reverses_id is not None:
        raise ConflictError(_("Decided hours are never changed: record a correction instead."))
    before = log.task
    log.task = task.strip()[:200]
    db.session.flush()
    record(
        actor,
        "work_log.edit",
        "work_log",
        log.id,
        municipality_id=log.household.municipality_id,
        changes={"task": [before, log.task]},
    )


def correct(actor: User, log: WorkLog, reason: str, *, today: date) -> WorkLog:
    """Cancel a verified log with an opposite entry; the original stays as it was."""
    if not policies.can_log_work(actor, log.household) and not policies.can_verify_at(
        actor, log.site.municipality_id, log.site.enterprise_id
    ):
        raise PermissionDenied()
    if log.status != LogStatus.VERIFIED or log.reverses_id is not None:
        raise ConflictError(_("Only verified hours are corrected."))
    if log.reversed_by is not None:
        raise ConflictError(_("These hours have been corrected already."))
    if not reason.strip():
        raise ValidationError(_("Give the reason for the correction."), "reason")
    correction = WorkLog(
        member_id=log.member_id,
        household_id=log.household_id,
        enrollment_id=log.enrollment_id,
        site_id=log.site_id,
        work_date=log.work_date,
        minutes=-log.minutes,
        task=reason.strip()[:200],
        status=LogStatus.VERIFIED,
        reverses_id=log.id,
        logged_by_id=actor.id,
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )
    db.session.add(correction)
    try:
        db.session.flush()
    except IntegrityError:
        raise ConflictError(_("These hours have been corrected already.")) from None
    record(
        actor,
        "work_log.correct",
        "work_log",
        log.id,
        municipality_id=log.household.municipality_id,
        changes={"correction_id": correction.id, "minutes": -log.minutes, "reason": reason.strip()},
    )
    return correction
