"""Checking every family's balance: the status rules (DESIGN.md §3), exactly once per
programme and date, and the alerts a change of status raises."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.audit.services import record
from casework.balances.models import Alert, BalanceRun, BalanceSnapshot, CheckStatus, Trigger
from casework.balances.queries import alert_visibility
from casework.db import chunked
from casework.enrollment.models import Enrollment, Status
from casework.errors import PermissionDenied, ValidationError, describe_exception
from casework.extensions import db
from casework.households.models import Household, Member
from casework.jobs import services as jobs
from casework.jobs.models import Job, JobKind
from casework.jobs.services import Outcome, Progress
from casework.labels import CHECK_STATUS_LABELS, label
from casework.mail import services as mail
from casework.payments.models import Obligation, Payment, PaymentReversal
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import Role, RoleAssignment, User
from casework.work.queries import Balance, balances

log = logging.getLogger(__name__)

ALERTING = {CheckStatus.BEHIND, CheckStatus.OVERDUE, CheckStatus.ON_TRACK, CheckStatus.COMPLETED}
LATE = (CheckStatus.BEHIND, CheckStatus.OVERDUE)  # a first check alerts only on these
FLAG_AFTER = 3  # checks in a row behind


@dataclass(frozen=True)
class Due:
    """One obligation as the check sees it."""

    minutes: int
    starts_on: date
    due_on: date


def expected_minutes(obligations: list[Due], as_of: date) -> int:
    """What a family on pace would have worked by ``as_of``: each obligation's minutes spread
    evenly from its payment to its due date."""
    total = 0
    for o in obligations:
        span = (o.due_on - o.starts_on).days
        elapsed = (as_of - o.starts_on).days
        if elapsed <= 0:
            continue
        total += o.minutes if span <= 0 or elapsed >= span else o.minutes * elapsed // span
    return total


def status_of(obligations: list[Due], verified: int, as_of: date, tolerance: int) -> CheckStatus:
    owed = sum(o.minutes for o in obligations)
    if owed <= 0:
        return CheckStatus.NO_OBLIGATION
    if verified >= owed:
        return CheckStatus.COMPLETED
    due_by_now = sum(o.minutes for o in obligations if o.due_on < as_of)
    if due_by_now and verified < due_by_now:
        return CheckStatus.OVERDUE
    if verified >= expected_minutes(obligations, as_of) - tolerance:
        return CheckStatus.ON_TRACK
    return CheckStatus.BEHIND


@dataclass(frozen=True)
class RunResult:
    run: BalanceRun
    created: bool  # False: the check had already run for that date, nothing changed


def _stored_run(programme: Programme, as_of: date) -> BalanceRun | None:
    return db.session.scalar(
        select(BalanceRun).where(BalanceRun.programme_id == programme.id, BalanceRun.as_of == as_of)
    )


def _claim_run(programme: Programme, as_of: date, trigger: Trigger) -> BalanceRun | None:
    """Insert the run row, or None when another process holds the same (programme, date)."""
    run = BalanceRun(programme_id=programme.id, as_of=as_of, trigger=trigger, errors=[])
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except IntegrityError:
        return None
    return run


def _active_households(programme: Programme) -> Sequence[Household]:
    return db.session.scalars(
        select(Household)
        .join(Enrollment, Enrollment.household_id == Household.id)
        .where(Enrollment.programme_id == programme.id, Enrollment.status == Status.ACTIVE)
        .order_by(Household.id)
    ).all()


def _dues(household_ids: list[int], as_of: date) -> dict[int, list[Due]]:
    """Each household's obligations of paid, not reversed payments, as of the day."""
    dues: dict[int, list[Due]] = {}
    for chunk in chunked(household_ids):
        for household_id, minutes, starts_on, due_on in db.session.execute(
            select(
                Obligation.household_id, Obligation.minutes, Obligation.starts_on, Obligation.due_on
            )
            .join(Payment, Obligation.payment_id == Payment.id)
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(
                Obligation.household_id.in_(chunk),
                PaymentReversal.id.is_(None),
                Obligation.starts_on <= as_of,
            )
        ):
            dues.setdefault(household_id, []).append(Due(minutes, starts_on, due_on))
    return dues


def _alerts_on(status: CheckStatus, previous: CheckStatus | None) -> bool:
    """A change of status alerts; a household's first check only when it finds it late."""
    return status != previous and status in ALERTING and (previous is not None or status in LATE)


@dataclass(frozen=True)
class _Check:
    """What a run knows of every household before it checks them one by one."""

    run: BalanceRun
    as_of: date
    tolerance: int
    dues: dict[int, list[Due]]
    worked: dict[int, Balance]
    previous: dict[int, BalanceSnapshot]
    recipients: dict[int, set[int]]

    def snapshot(self, household: Household) -> tuple[dict[str, object], list[dict[str, object]]]:
        """The household's snapshot row and the alerts it raises (rows, not ORM objects)."""
        balance = self.worked[household.id]
        obligations = self.dues.get(household.id, [])
        status = status_of(obligations, balance.verified, self.as_of, self.tolerance)
        before = self.previous.get(household.id)
        streak = (before.behind_streak if before else 0) + 1 if status == CheckStatus.BEHIND else 0
        row: dict[str, object] = {
            "run_id": self.run.id,
            "household_id": household.id,
            "owed": sum(o.minutes for o in obligations),
            "verified": balance.verified,
            "pending": balance.pending,
            "expected": expected_minutes(obligations, self.as_of),
            "status": status,
            "behind_streak": streak,
            "flagged": streak >= FLAG_AFTER,
        }
        previous_status = before.status if before else None
        if not _alerts_on(status, previous_status):
            return row, []
        return row, [
            {
                "user_id": user_id,
                "household_id": household.id,
                "previous_status": previous_status,
                "status": status,
            }
            for user_id in sorted(self.recipients.get(household.id, set()))
        ]


def _store(snapshots: list[dict[str, object]], alerts: list[tuple[int, dict[str, object]]]) -> None:
    """One multi-row INSERT for the snapshots and one for the alerts, so that a national
    check costs milliseconds per thousand families."""
    if not snapshots:
        return
    snapshot_ids = db.session.scalars(
        insert(BalanceSnapshot).returning(BalanceSnapshot.id, sort_by_parameter_order=True),
        snapshots,
    ).all()
    if alerts:
        db.session.execute(
            insert(Alert),
            [{**alert, "snapshot_id": snapshot_ids[index]} for index, alert in alerts],
        )


def run_check(
    programme: Programme,
    as_of: date,
    *,
    today: date,
    trigger: Trigger = Trigger.MANUAL,
    actor: User | None = None,
) -> RunResult:
    """Check every active household of the programme as of ``as_of``, once.

    The run row is inserted first: if another process holds the same (programme, date), the
    insert fails on the unique key and this call reports the existing run instead.
    The audit trail says who started it: ``actor`` (a coordinator on the checks page or the
    API), else the scheduler or the command line, as ``trigger`` says."""
    if as_of > today:
        raise ValidationError(_("A balance check cannot be dated in the future."), "date")
    existing = _stored_run(programme, as_of)
    if existing is not None:
        return RunResult(existing, False)
    run = _claim_run(programme, as_of, trigger)
    if run is None:
        found = _stored_run(programme, as_of)
        assert found is not None  # noqa: S101 - the unique key just said it exists
        return RunResult(found, False)

    households = _active_households(programme)
    ids = [h.id for h in households]
    check = _Check(
        run,
        as_of,
        programme.tolerance_minutes,
        _dues(ids, as_of),
        balances(ids, as_of),
        _previous_snapshots(programme, as_of, ids),
        _recipients(programme, households),
    )
    errors: list[dict[str, object]] = []
    snapshots: list[dict[str, object]] = []
    alerts: list[tuple[int, dict[str, object]]] = []  # (index of its snapshot, the alert)
    for household in households:
        try:
            snapshot, raised = check.snapshot(household)
        except Exception as error:
            # Types and frames only: a database error's message carries the row's values.
            log.error(
                "balance check of household %s failed: %s",
                household.id,
                describe_exception(error),
            )
            errors.append({"household_id": household.id, "error": type(error).__name__})
            continue
        alerts.extend((len(snapshots), alert) for alert in raised)
        snapshots.append(snapshot)
    _store(snapshots, alerts)
    run.households = len(households)
    run.errors = errors
    db.session.flush()
    _mail_alerts(run, households)
    _mail_digests(programme, run)
    record(
        actor,
        "balance_check.run",
        "balance_run",
        run.id,
        municipality_id=programme.municipality_id,
        changes={
            "as_of": as_of,
            "households": len(households),
            "errors": len(errors),
            "trigger": trigger,
            "started_by": _started_by(actor, trigger),
        },
    )
    return RunResult(run, True)


def _started_by(actor: User | None, trigger: Trigger) -> str:
    """Who started a check, in the audit trail's words: a user (the event's actor), or the
    process that ran it by itself."""
    if actor is not None:
        return "user"
    return "scheduler" if trigger == Trigger.SCHEDULED else "command line"


def _mail_alerts(run: BalanceRun, households: Sequence[Household]) -> None:
    """One short message per alert. Only the family's own social worker reads its name; the
    coordinators get the case number."""
    by_id = {h.id: h for h in households}
    alerts = db.session.scalars(
        select(Alert).join(BalanceSnapshot).where(BalanceSnapshot.run_id == run.id)
    ).all()
    users = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({a.user_id for a in alerts})))
    }
    alerted = sorted({a.household_id for a in alerts})
    heads: dict[int, Member] = {}
    for start in range(0, len(alerted), 500):  # the heads' names in a few queries, not one each
        heads.update(
            (m.household_id, m)
            for m in db.session.scalars(
                select(Member).where(
                    Member.household_id.in_(alerted[start : start + 500]), Member.is_head
                )
            )
        )
    for alert in alerts:
        user, household = users[alert.user_id], by_id[alert.household_id]
        head = heads.get(household.id)
        with force_locale(user.locale or "mk"):
            status = str(label(CHECK_STATUS_LABELS, alert.status))
            own_family = household.assigned_worker_id == user.id and head is not None
            who = (
                f"{household.case_number} ({head.full_name})"  # type: ignore[union-attr]
                if own_family
                else household.case_number
            )
            mail.queue(
                user,
                _("casework: %(who)s is %(status)s", who=household.case_number, status=status),
                _(
                    "The balance check of %(date)s found %(who)s %(status)s. "
                    "Open casework to see the family's hours.",
                    date=run.as_of.strftime("%d.%m.%Y"),
                    who=who,
                    status=status,
                ),
                "alert",
            )


def _coordinators(programme: Programme) -> Sequence[User]:
    """The active coordinators of the programme's municipality: every alert and digest of
    the programme goes to them."""
    return db.session.scalars(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.role == Role.COORDINATOR.value,
            RoleAssignment.municipality_id == programme.municipality_id,
            User.active.is_(True),
        )
    ).all()


def _mail_digests(programme: Programme, run: BalanceRun) -> None:
    """A weekly summary per coordinator: counts by status and the case numbers to look at."""
    coordinators = _coordinators(programme)
    snapshots = db.session.execute(
        select(BalanceSnapshot.status, Household.case_number)
        .join(Household, Household.id == BalanceSnapshot.household_id)
        .where(BalanceSnapshot.run_id == run.id)
        .order_by(Household.case_number)
    ).all()
    counts: dict[CheckStatus, int] = {}
    for status, _case in snapshots:
        counts[status] = counts.get(status, 0) + 1
    to_look_at = [
        case for status, case in snapshots if status in (CheckStatus.BEHIND, CheckStatus.OVERDUE)
    ]
    for user in coordinators:
        with force_locale(user.locale or "mk"):
            lines = [
                f"{label(CHECK_STATUS_LABELS, status)}: {n}" for status, n in sorted(counts.items())
            ]
            if to_look_at:
                lines.append(_("To look at: %(cases)s", cases=", ".join(to_look_at)))
            mail.queue(
                user,
                _("casework: balance check of %(date)s", date=run.as_of.strftime("%d.%m.%Y")),
                "\n".join([programme.name, *lines]),
                "digest",
            )


def _previous_snapshots(
    programme: Programme, as_of: date, household_ids: list[int]
) -> dict[int, BalanceSnapshot]:
    """Each household's snapshot from the programme's latest earlier run."""
    latest = db.session.scalar(
        select(BalanceRun.id)
        .where(BalanceRun.programme_id == programme.id, BalanceRun.as_of < as_of)
        .order_by(BalanceRun.as_of.desc())
        .limit(1)
    )
    if latest is None:
        return {}
    found: dict[int, BalanceSnapshot] = {}
    for chunk in chunked(household_ids):
        found.update(
            (s.household_id, s)
            for s in db.session.scalars(
                select(BalanceSnapshot).where(
                    BalanceSnapshot.run_id == latest, BalanceSnapshot.household_id.in_(chunk)
                )
            )
        )
    return found


def _recipients(programme: Programme, households: Sequence[Household]) -> dict[int, set[int]]:
    """Each household's social worker and the coordinators of the programme's municipality."""
    coordinators = {user.id for user in _coordinators(programme)}
    return {
        h.id: coordinators | ({h.assigned_worker_id} if h.assigned_worker_id else set())
        for h in households
    }


def mark_read(user: User, alert: Alert, *, now: datetime) -> Alert:
    """Read per person: one coordinator reading an alert leaves it unread for the others."""
    if not policies.can_read_alert(user, alert):
        raise PermissionDenied()
    if alert.read_at is None:
        alert.read_at = now
        db.session.flush()
    return alert


def mark_all_read(
    user: User, *, up_to: int | None, now: datetime, household_id: int | None = None
) -> int:
    """Every unread alert the user is shown (or those of one family), in one UPDATE; ``up_to``
    (the newest alert on the page) leaves unread an alert that arrived after the page was
    drawn. Returns how many."""
    if not policies.can_read_alerts(user):
        raise PermissionDenied()
    stmt = (
        update(Alert)
        .where(alert_visibility(user), Alert.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if up_to is not None:
        stmt = stmt.where(Alert.id <= up_to)
    if household_id is not None:
        stmt = stmt.where(Alert.household_id == household_id)
    return int(db.session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def start_check(actor: User, programme: Programme, *, today: date) -> Job:
    """Queue a check of every family for the worker (a large programme takes longer than a
    web request may): the page shows its progress, then the checks."""
    if not policies.can_manage_programme(actor, programme):
        raise PermissionDenied()
    return jobs.enqueue(
        actor,
        JobKind.BALANCE_CHECK,
        {"programme_id": programme.id, "as_of": today.isoformat(), "today": today.isoformat()},
    )


@jobs.handler(JobKind.BALANCE_CHECK)
def check_job(job: Job, progress: Progress) -> Outcome:
    programme = db.session.get_one(Programme, job.params["programme_id"])
    if not policies.can_manage_programme(job.requested_by, programme):
        raise PermissionDenied()  # the role was taken away while the job waited
    progress.set_total(1)
    result = run_check(
        programme,
        date.fromisoformat(job.params["as_of"]),
        today=date.fromisoformat(job.params["today"]),
        trigger=Trigger.MANUAL,
        actor=job.requested_by,
    )
    progress.advance()
    message = (
        _("Balance check done.")
        if result.created
        else _("Today's check had already run: nothing changed.")
    )
    return Outcome(message, "balances.checks", {"programme_id": programme.id})
