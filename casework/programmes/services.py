"""Setting up a programme: its money, its hourly value and its limits on work."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from apscheduler.triggers.cron import CronTrigger
from flask_babel import gettext as _

from casework.audit.services import record
from casework.bounds import (
    MAX_AMOUNT_DENI,
    MAX_ID,
    MAX_MINUTES,
    too_large_amount,
    too_large_count,
    too_large_hours,
)
from casework.errors import PermissionDenied, ValidationError, checking
from casework.extensions import db
from casework.organizations.models import Municipality, Organization, OrganizationKind
from casework.programmes.models import (
    DEFAULT_DAILY_CAP_MINUTES,
    DEFAULT_SCHEDULE,
    DEFAULT_WEEKLY_CAP_MINUTES,
    Programme,
)
from casework.security import policies
from casework.security.models import User


@dataclass
class ProgrammeData:
    name: str
    donor: str
    starts_on: date
    ends_on: date | None
    budget_deni: int
    hourly_value_deni: int
    approval_threshold_deni: int
    daily_cap_minutes: int = DEFAULT_DAILY_CAP_MINUTES
    weekly_cap_minutes: int = DEFAULT_WEEKLY_CAP_MINUTES
    work_deadline_days: int = 180
    check_schedule: str = DEFAULT_SCHEDULE
    timezone: str = field(default="Europe/Skopje")
    debt_period_from: date | None = None
    debt_period_to: date | None = None


def _check(data: ProgrammeData) -> None:
    if not data.name.strip():
        raise ValidationError(_("Enter the programme's name."), "name")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise ValidationError(_("The end date is before the start date."), "ends_on")
    if data.budget_deni < 0:
        raise ValidationError(_("The budget cannot be negative."), "budget_deni")
    if data.hourly_value_deni <= 0:
        raise ValidationError(
            _("The value of one hour must be more than zero."), "hourly_value_deni"
        )
    if data.approval_threshold_deni < 0:
        raise ValidationError(_("The threshold cannot be negative."), "approval_threshold_deni")
    if not 0 < data.daily_cap_minutes <= 24 * 60:
        raise ValidationError(
            _("The daily limit must be between 1 minute and 24 hours."), "daily_cap_minutes"
        )
    if not data.daily_cap_minutes <= data.weekly_cap_minutes <= 7 * 24 * 60:
        raise ValidationError(
            _("The weekly limit must be at least the daily limit."), "weekly_cap_minutes"
        )
    if (
        data.debt_period_from is not None
        and data.debt_period_to is not None
        and data.debt_period_to < data.debt_period_from
    ):
        raise ValidationError(_("The debt period ends before it starts."), "debt_period_to")
    if data.work_deadline_days <= 0:
        raise ValidationError(
            _("The deadline for the work must be at least one day."), "work_deadline_days"
        )
    try:
        CronTrigger.from_crontab(data.check_schedule)
    except ValueError:
        raise ValidationError(
            _("Write the schedule as a cron expression, such as 0 7 * * mon."), "check_schedule"
        ) from None


def create_programme(
    actor: User,
    municipality: Municipality,
    ngo: Organization,
    data: ProgrammeData,
    eligible_creditors: list[Organization] | None = None,
) -> Programme:
    """Admins of the municipality (or global admins) set programmes up."""
    if not policies.can_create_programme(actor, municipality.id):
        raise PermissionDenied()
    if ngo.kind != OrganizationKind.NGO:
        raise ValidationError(_("Choose the NGO that runs the programme."), "ngo_id")
    _check(data)
    programme = Programme(municipality_id=municipality.id, ngo_id=ngo.id, **asdict(data))
    programme.name = data.name.strip()
    creditors = eligible_creditors or []
    if any(c.kind != OrganizationKind.CREDITOR for c in creditors):
        raise ValidationError(
            _("Only creditors can be eligible for payment."), "eligible_creditors"
        )
    programme.eligible_creditors = creditors
    db.session.add(programme)
    db.session.flush()
    record(
        actor,
        "programme.create",
        "programme",
        programme.id,
        municipality_id=municipality.id,
        changes={
            "after": {
                k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(data).items()
            }
        },
    )
    return programme


@dataclass(frozen=True)
class Targets:
    families: int | None
    debt_deni: int | None
    minutes: int | None


def _check_targets(targets: Targets) -> None:
    """Each target above zero (or left empty) and within the shared bounds, all at once."""
    with checking() as checks:
        for name, value in (
            ("target_families", targets.families),
            ("target_debt_deni", targets.debt_deni),
            ("target_minutes", targets.minutes),
        ):
            if value is not None and not 0 < value < 10**13:
                checks.refuse(_("A target is a number above zero, or left empty."), name)
        if checks.ok("target_families") and (targets.families or 0) > MAX_ID:
            checks.refuse(too_large_count(_("Families to enroll")), "target_families")
        if checks.ok("target_debt_deni") and (targets.debt_deni or 0) > MAX_AMOUNT_DENI:
            checks.refuse(too_large_amount(_("Debt to pay (ден.)")), "target_debt_deni")
        if checks.ok("target_minutes") and (targets.minutes or 0) > MAX_MINUTES:
            checks.refuse(too_large_hours(_("Hours of community work")), "target_minutes")


def set_targets(actor: User, programme: Programme, targets: Targets) -> Programme:
    """The results promised to the donor: families covered, debt paid, hours worked."""
    if not policies.can_manage_programme(actor, programme):
        raise PermissionDenied()
    _check_targets(targets)
    before = {
        "families": programme.target_families,
        "debt_deni": programme.target_debt_deni,
        "minutes": programme.target_minutes,
    }
    programme.target_families = targets.families
    programme.target_debt_deni = targets.debt_deni
    programme.target_minutes = targets.minutes
    db.session.flush()
    record(
        actor,
        "programme.targets",
        "programme",
        programme.id,
        municipality_id=programme.municipality_id,
        changes={"before": before, "after": asdict(targets)},
    )
    return programme
