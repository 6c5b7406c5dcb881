"""Fill an empty database with the Kičevo pilot (DOMAIN.md): believable, clearly fake data.

Everything goes through the services, so the demo obeys the same rules as real use.
Random choices come from a fixed seed: the demo is the same on every machine. The pilot's
calendar (call for applications, then about five months of work) is shifted so that the demo
programme is under way on the day the demo is made: its balances and schedules are live.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from stdnum.si import emso

from casework import clock, formatting
from casework.api.services import create_token
from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.balances.models import Trigger
from casework.balances.services import run_check
from casework.config import EXAMPLES_DIR
from casework.db import utcnow
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import CloseReason, CommissionMember, Enrollment, Seat
from casework.households.models import ExemptionReason, Household, Member, Relation
from casework.households.services import (
    HouseholdData,
    MemberData,
    add_exemption,
    add_member,
    add_note,
    assign_worker,
    create_household,
    reveal_national_id,
)
from casework.organizations.models import Municipality, Organization, OrganizationKind
from casework.organizations.services import create_municipality, create_organization
from casework.payments import queries as payment_queries
from casework.payments import services as payment_services
from casework.privacy.services import anonymise_household, households_due_for_retention
from casework.programmes.models import Programme
from casework.programmes.services import ProgrammeData, Targets, create_programme, set_targets
from casework.security.models import Role, User
from casework.security.services import RoleGrant, create_user
from casework.work import queries as work_queries
from casework.work import services as work_services
from casework.work.models import WorkSite

KICEVO_REGION = "43"

SURNAMES = [
    "Мамудовски",
    "Ибраимовски",
    "Демировски",
    "Рамадановски",
    "Асановски",
    "Јашаровски",
    "Сулејмановски",
    "Бајрамовски",
    "Алиовски",
    "Мустафовски",
    "Шабановски",
    "Исмаиловски",
    "Реџеповски",
    "Аметовски",
    "Селимовски",
    "Зеќировски",
    "Османовски",
    "Бекировски",
]
MALE_NAMES = [
    "Мухамед",
    "Сефер",
    "Ердован",
    "Шабан",
    "Бајрам",
    "Џемаил",
    "Рамадан",
    "Али",
    "Енвер",
    "Мустафа",
    "Фикрет",
    "Ерхан",
    "Сами",
    "Ервин",
    "Дамир",
    "Амет",
    "Ремзи",
    "Нехат",
]
FEMALE_NAMES = [
    "Ајше",
    "Фатиме",
    "Мерсиха",
    "Сабина",
    "Неџмије",
    "Хатиџе",
    "Ремзије",
    "Емине",
    "Алмира",
    "Шукрије",
    "Севдије",
    "Лејла",
    "Нермина",
    "Зумрије",
    "Селвије",
    "Елмаз",
]
STREETS = [
    "ул. Гоце Делчев",
    "ул. Борис Кидрич",
    "ул. Илинденска",
    "ул. 11 Октомври",
    "ул. Раде Јовчевски Корчагин",
    "ул. Јоаким Крчовски",
    "ул. Христо Узунов",
    "ул. Ѓорче Петров",
]
SETTLEMENTS = ["Кичево", "Кичево", "Кичево", "Осломеј", "Другово", "Зајас"]


def female_form(surname: str) -> str:
    """Macedonian surnames in -ски take -ска for women."""
    return surname[:-1] + "а" if surname.endswith("ски") else surname


_issued: set[str] = set()


def national_id(birth: date, female: bool, rng: random.Random) -> str:
    """A valid ЕМБГ for this birth date, region Kičevo, with the right check digit."""
    while True:
        serial = rng.randrange(500, 1000) if female else rng.randrange(0, 500)
        stem = f"{birth:%d%m}{birth.year % 1000:03d}{KICEVO_REGION}{serial:03d}"
        number = stem + emso.calc_check_digit(stem)
        if number not in _issued:
            _issued.add(number)
            return number


def birth(rng: random.Random, today: date, age_from: int, age_to: int) -> date:
    return today - timedelta(days=rng.randrange(age_from * 365 + 1, age_to * 365 - 1))


def pick_name(rng: random.Random, names: list[str], taken: set[str]) -> str:
    """A first name not yet used in this household."""
    name = rng.choice([n for n in names if n not in taken] or names)
    taken.add(name)
    return name


@dataclass
class DemoUsers:
    admin: User
    coordinator: User
    worker: User
    worker2: User
    officer: User
    officer2: User
    supervisor: User
    auditor: User


def _users(password: str, kicevo: Municipality, enterprise: Organization) -> DemoUsers:
    def make(username: str, name: str, role: Role, email: str, locale: str = "mk") -> User:
        municipality = None if role is Role.ADMIN else kicevo
        organization = enterprise if role is Role.SUPERVISOR else None
        return create_user(
            None,
            username,
            name,
            password,
            [RoleGrant(role, municipality, organization)],
            email=email,
            locale=locale,
        )

    return DemoUsers(
        admin=make("admin", "Админ Системски", Role.ADMIN, "admin@casework.example"),
        coordinator=make(
            "coordinator", "Билјана Трајковска", Role.COORDINATOR, "coordinator@cgi.example"
        ),
        worker=make("worker", "Елена Стојановска", Role.SOCIAL_WORKER, "worker@cgi.example"),
        worker2=make("worker2", "Адем Реџепи", Role.SOCIAL_WORKER, "worker2@cgi.example", "sq"),
        officer=make("officer", "Горан Петровски", Role.OFFICER, "officer@kicevo.example"),
        officer2=make("officer2", "Арта Лимани", Role.OFFICER, "officer2@kicevo.example", "sq"),
        supervisor=make(
            "supervisor", "Никола Јовановски", Role.SUPERVISOR, "supervisor@komunalec.example"
        ),
        auditor=make("auditor", "Sarah Keller", Role.AUDITOR, "auditor@donor.example", "en"),
    )


@dataclass(frozen=True)
class _Family:
    """What a demo household's members share: the surname, the head, the names already used."""

    surname: str
    head_female: bool
    head_birth: date
    taken: set[str]

    def member(
        self, rng: random.Random, female: bool, born: date, relation: Relation
    ) -> MemberData:
        """A member with a first name not yet used in the household, and a valid ЕМБГ."""
        return MemberData(
            first_name=pick_name(rng, FEMALE_NAMES if female else MALE_NAMES, self.taken),
            last_name=female_form(self.surname) if female else self.surname,
            birth_date=born,
            national_id=national_id(born, female, rng),
            relation=relation.value,
        )


def _household(
    rng: random.Random,
    index: int,
    users: DemoUsers,
    kicevo: Municipality,
    opened: date,
    today: date,
) -> Household:
    surname = rng.choice(SURNAMES)
    head_female = rng.random() < 0.3
    head_birth = birth(rng, today, 28, 58)
    street = rng.choice(STREETS)
    family = _Family(surname, head_female, head_birth, set())
    head = family.member(rng, head_female, head_birth, Relation.HEAD)
    household = create_household(
        users.coordinator,
        kicevo,
        HouseholdData(
            address=f"{street} бр. {rng.randrange(1, 140)}",
            settlement=rng.choice(SETTLEMENTS),
            phone=f"+389 7{rng.randrange(9)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}",
            language="sq" if index % 9 == 4 else "mk",
            consent_on=opened + timedelta(days=rng.randrange(0, 20)),
        ),
        head,
        today=today,
    )
    coordinator = users.coordinator
    members = _spouse_and_children(rng, coordinator, household, family, today)
    if index % 6 == 0:
        _grandmother(rng, coordinator, household, surname, opened, today)
    _exemptions(rng, coordinator, household, members, index, opened)
    if index % 13 != 12:  # a few new households wait for a caseload
        assign_worker(coordinator, household, users.worker if index % 2 == 0 else users.worker2)
    return household


def _spouse_and_children(
    rng: random.Random, coordinator: User, household: Household, family: _Family, today: date
) -> list[Member]:
    """Most heads have a spouse of the other sex; every household one to four children."""
    members = []
    if rng.random() < 0.85:
        spouse_female = not family.head_female
        spouse_birth = family.head_birth + timedelta(days=rng.randrange(-2500, 2500))
        spouse = family.member(rng, spouse_female, spouse_birth, Relation.SPOUSE)
        members.append(add_member(coordinator, household, spouse, today=today))
    for _child in range(rng.randrange(1, 5)):
        female = rng.random() < 0.5
        head_age = (today - family.head_birth).days // 365
        child_birth = birth(rng, today, 1, min(24, head_age - 17))
        child = family.member(rng, female, child_birth, Relation.CHILD)
        members.append(add_member(coordinator, household, child, today=today))
    return members


def _grandmother(
    rng: random.Random,
    coordinator: User,
    household: Household,
    surname: str,
    opened: date,
    today: date,
) -> None:
    """A pensioner grandmother, exempt from work."""
    grandparent_birth = birth(rng, today, 66, 80)
    grandmother = add_member(
        coordinator,
        household,
        MemberData(
            first_name=rng.choice(FEMALE_NAMES),
            last_name=female_form(surname),
            birth_date=grandparent_birth,
            national_id=national_id(grandparent_birth, True, rng),
            relation=Relation.GRANDPARENT.value,
        ),
        today=today,
    )
    add_exemption(
        coordinator,
        grandmother,
        ExemptionReason.PENSIONER.value,
        f"ПИОМ решение бр. 08-{rng.randrange(1000, 9999)}",
        opened,
    )


def _exemptions(
    rng: random.Random,
    coordinator: User,
    household: Household,
    members: list[Member],
    index: int,
    opened: date,
) -> None:
    """A pregnant or new mother among the spouses, and a head unable to work now and then."""
    spouse = next((m for m in members if m.relation == Relation.SPOUSE), None)
    if spouse is not None and spouse.sex == "F":
        if index % 7 == 3:
            add_exemption(
                coordinator,
                spouse,
                ExemptionReason.PREGNANCY.value,
                f"Потврда од гинеколог бр. {rng.randrange(100, 999)}",
                opened - timedelta(days=40),
                opened + timedelta(days=170),
            )
        elif index % 7 == 5:
            add_exemption(
                coordinator,
                spouse,
                ExemptionReason.MATERNITY.value,
                f"Решение за породилно отсуство бр. {rng.randrange(100, 999)}",
                opened - timedelta(days=60),
                opened + timedelta(days=210),
            )
    if index % 10 == 7:
        add_exemption(
            coordinator,
            household.members[0],
            ExemptionReason.UNABLE_TO_WORK.value,
            f"Наод на комисија за оценка на работна способност бр. {rng.randrange(10, 99)}",
            opened - timedelta(days=150),
        )


COMMISSION = [
    ("Весна Илиевска", Seat.MUNICIPALITY),
    ("Драган Ристески", Seat.SOCIAL_WORK_CENTRE),
    ("Сениха Мустафовска", Seat.ROMA_NGO),
    ("Благој Николоски", Seat.DISABILITY_NGO),
    ("адв. Мирјана Талеска", Seat.LAWYER),
]

# The path of each demo household, by its index: most are active, the rest show every state.
PATHS = {
    0: "applied",
    9: "applied",
    5: "approved",
    14: "approved",
    8: "rejected",
    19: "rejected",
    23: "withdrawn",
}


def _enroll(
    rng: random.Random,
    index: int,
    household: Household,
    programme: Programme,
    commission: list[CommissionMember],
    coordinator: User,
    opened: date,
    today: date,
) -> None:
    path = PATHS.get(index, "active")
    applied_on = opened + timedelta(days=rng.randrange(0, 14))
    enrollment = enrollment_services.apply(
        coordinator, household, programme, applied_on=applied_on, today=today
    )
    if path == "applied":
        return
    sitting = opened + timedelta(days=17)  # the commission meets once, after the first round
    present = commission if index % 3 else commission[:4]
    if path == "rejected":
        enrollment_services.record_decision(
            coordinator,
            enrollment,
            enrollment_services.DecisionData(
                decided_on=sitting,
                outcome="rejected",
                votes={m.id: ("against" if i < 3 else "for") for i, m in enumerate(present)},
                reference=f"Записник бр. 08-{rng.randrange(100, 999)}",
                reason="Долговите се настанати надвор од периодот на јавниот повик."
                if index % 2
                else "Домаќинството не живее на територијата на општината.",
            ),
            today=today,
        )
        return
    enrollment_services.record_decision(
        coordinator,
        enrollment,
        enrollment_services.DecisionData(
            decided_on=sitting,
            outcome="approved",
            votes={
                m.id: ("abstain" if i == 4 and index % 5 == 0 else "for")
                for i, m in enumerate(present)
            },
            reference=f"Записник бр. 08-{rng.randrange(100, 999)}",
        ),
        today=today,
    )
    if path == "approved":
        return
    signed_on = sitting + timedelta(days=rng.randrange(3, 10))
    adults = [m.id for m in household.members if m.age_on(signed_on) >= 18][:2]
    enrollment_services.sign_agreement(
        coordinator,
        enrollment,
        signed_on=signed_on,
        reference=f"{index + 1:02d}/{signed_on.year}",
        signatory_ids=adults,
        today=today,
    )
    if path == "withdrawn":
        enrollment_services.withdraw(
            coordinator,
            enrollment,
            on=signed_on + timedelta(days=20),
            reason="Семејството се пресели во Скопје.",
            today=today,
        )


NOTES = [
    ("Домашна посета: семејството ги донесе сметките од ЕВН за последните 12 месеци.", "ngo"),
    ("Носителот на домаќинството е заинтересиран да работи во паркот; договоривме термин.", "ngo"),
    ("Домаќинството доби решение за социјална помош; копија е во досието.", "shared"),
    ("Децата редовно одат на училиште; мајката бара информации за бесплатни учебници.", "ngo"),
]


def _duplicate_candidate(
    coordinator: User, kicevo: Municipality, existing: Household, today: date
) -> None:
    """A late application from a relative's address: its head is already in ``existing``."""
    person = (
        next(m for m in existing.members if m.relation == Relation.SPOUSE)
        if any(m.relation == Relation.SPOUSE for m in existing.members)
        else existing.members[0]
    )
    household = create_household(
        coordinator,
        kicevo,
        HouseholdData(
            address="ул. Илинденска бр. 102",
            settlement="Кичево",
            language="mk",
            consent_on=today - timedelta(days=2),
        ),
        MemberData(
            person.first_name,
            person.last_name,
            person.birth_date,
            sex=person.sex,
            relation=Relation.HEAD.value,
        ),
        today=today,
    )
    add_note(
        coordinator,
        household,
        "Нова пријава; изгледа дека лицето веќе е член на друго домаќинство.",
        "ngo",
        written_on=today - timedelta(days=2),
        today=today,
    )


# What each active household's money shows, by its place among the active households.
MONEY_PATHS = {
    0: "draft",
    1: "submitted",
    2: "rejected",
    3: "resubmitted",
    4: "two_approvals",
    5: "approved",
    6: "cancelled",
    7: "reversed",
}


def _round_down(deni: int, step: int = 10_00) -> int:
    return deni - deni % step


def _debts(
    rng: random.Random,
    index: int,
    household: Household,
    programme: Programme,
    creditors: tuple[Organization, Organization],
    coordinator: User,
    today: date,
) -> None:
    """An EVN statement and a communal statement, as the pilot's families brought them; one
    family also brings an older EVN bill that the call does not cover."""
    if programme.debt_period_from is None or programme.debt_period_to is None:
        return
    received = programme.starts_on + timedelta(days=rng.randrange(1, 6))
    amounts = (
        _round_down(int(rng.triangular(4_000_00, 40_000_00, 15_000_00))),
        _round_down(int(rng.triangular(1_500_00, 12_000_00, 5_000_00))),
    )
    if index == 7:
        amounts = (38_450_00, amounts[1])  # above the approval threshold: two officers approve
    for creditor, prefix, principal in zip(
        creditors, ("EVN-DEMO", "KOM-DEMO"), amounts, strict=True
    ):
        account = payment_services.open_account(
            coordinator, household, creditor, f"{prefix}-{12_345_000 + index:08d}"
        )
        penalty = _round_down(principal // 12, 1_00)
        payment_services.record_arrear(
            coordinator,
            account,
            payment_services.ArrearData(
                period_from=programme.debt_period_from,
                period_to=programme.debt_period_to,
                principal_deni=principal - penalty,
                penalty_deni=penalty,
                statement_ref=f"Опомена бр. {rng.randrange(1000, 9999)}/{received.year}",
                received_on=received,
            ),
            today=today,
        )
        if index == 10 and prefix == "EVN-DEMO":
            payment_services.record_arrear(
                coordinator,
                account,
                payment_services.ArrearData(
                    period_from=programme.debt_period_from - timedelta(days=400),
                    period_to=programme.debt_period_from - timedelta(days=35),
                    principal_deni=6_240_00,
                    penalty_deni=810_00,
                    statement_ref=f"Опомена бр. {rng.randrange(1000, 9999)}/{received.year - 1}",
                    received_on=received,
                ),
                today=today,
            )


def _payments(
    active_index: int,
    household: Household,
    programme: Programme,
    users: DemoUsers,
    today: date,
) -> None:
    """Requests in every state; most families' electricity debt paid, some communal too."""
    enrollment = enrollment_services.open_enrollment(household)
    if enrollment is None or enrollment.active_since is None:
        return
    accounts = sorted(
        (a for a in payment_services.accounts_of(household)), key=lambda a: a.customer_number
    )
    evn_arrear, communal_arrear = accounts[0].arrears[-1], accounts[1].arrears[-1]
    path = MONEY_PATHS.get(active_index, "paid")
    coordinator = users.coordinator
    officer, officer2 = (
        (users.officer, users.officer2) if active_index % 2 else (users.officer2, users.officer)
    )
    day = enrollment.active_since + timedelta(days=2 + active_index % 5)
    amount = (
        evn_arrear.total_deni
        if path == "two_approvals"
        else _round_down(min(evn_arrear.total_deni, 25_000_00))
    )
    request = payment_services.create_request(
        coordinator,
        enrollment,
        evn_arrear,
        amount,
        "Долг за електрична енергија од периодот на повикот; опомена пред исклучување.",
        today=day,
    )
    if path == "draft":
        return
    payment_services.submit(coordinator, request, today=day)
    if path == "submitted":
        return
    decided = day + timedelta(days=3)
    if path in ("rejected", "resubmitted"):
        payment_services.reject(
            officer,
            request,
            "Износот не одговара на опомената: приложете ја последната опомена од ЕВН.",
            today=decided,
        )
        if path == "rejected":
            return
        payment_services.edit_request(
            coordinator,
            request,
            _round_down(request.amount_deni - 1_000_00),
            "Износ според последната опомена од ЕВН (приложена).",
            today=decided,
        )
        payment_services.submit(coordinator, request, today=decided)
        decided += timedelta(days=2)
    payment_services.approve(officer, request, today=decided)
    if path == "two_approvals":
        payment_services.approve(officer2, request, today=decided + timedelta(days=1))
        decided += timedelta(days=1)
    if path == "approved":
        return
    if path == "cancelled":
        payment_services.cancel(
            officer,
            request,
            "Семејството самото го намири долгот пред плаќањето.",
            today=decided + timedelta(days=2),
        )
        return
    paid_on = min(decided + timedelta(days=4), today)
    payment = payment_services.record_payment(
        officer,
        request,
        payment_services.PaymentData(
            paid_on=paid_on,
            reference=f"Извод бр. {paid_on:%m}-{request.id:04d}",
            amount_deni=request.amount_deni,
        ),
        today=today,
    )
    if path == "reversed":
        payment_services.reverse_payment(
            officer,
            payment,
            "Уплатено на погрешен број на корисник; ЕВН ги врати средствата.",
            on=paid_on + timedelta(days=1),
            today=today,
        )
        return
    if active_index % 3 == 0:  # some families' communal debt is paid too
        communal = payment_services.create_request(
            coordinator, enrollment, communal_arrear, communal_arrear.total_deni, "", today=day
        )
        payment_services.submit(coordinator, communal, today=day)
        payment_services.approve(officer2, communal, today=decided)
        payment_services.record_payment(
            officer2,
            communal,
            payment_services.PaymentData(
                paid_on=paid_on,
                reference=f"Извод бр. {paid_on:%m}-{communal.id:04d}",
                amount_deni=communal.amount_deni,
            ),
            today=today,
        )


SITES = [
    ("Градски парк", "Кичево, покрај Зајаска Река", "одржување на зеленило"),
    ("Централно градско подрачје", "Кичево, центар", "чистење на улици и јавни површини"),
    ("Градски гробишта", "Кичево, Осломеј", "чистење и уредување"),
]
TASKS = ["Косење трева", "Собирање отпад", "Чистење на тротоари", "Уредување на патеки"]


@dataclass
class _Crew:
    """One household's demo work: who logs it, where, at which pace, and how far it got."""

    logger: User
    site: WorkSite
    pace: str
    owed: int
    this_monday: date
    done: int = 0
    serial: int = 0

    def works_on(self, day: date) -> bool:
        """Weekdays; a family behind only on Wednesdays, one on track not on Tuesdays."""
        return (
            day.weekday() < 5
            and (self.pace != "behind" or day.weekday() == 2)
            and (self.pace == "finished" or day.weekday() in (0, 2, 3, 4))
        )


def _work(
    active_index: int,
    household: Household,
    sites: list[WorkSite],
    users: DemoUsers,
    today: date,
) -> None:
    """Logs since the payment: some families finished, most on track, some behind, some not
    started; older weeks confirmed by the supervisor (a few rejected), this week pending."""
    balance = work_queries.balances([household.id])[household.id]
    enrollment = enrollment_services.open_enrollment(household)
    if balance.owed == 0 or enrollment is None:
        return
    first_paid = min(o.starts_on for o in work_queries.obligations_of(household))
    pace = (
        "finished"
        if balance.owed <= 150 * 60
        else ["on_track", "behind", "on_track", "none"][active_index % 4]
    )
    if pace == "none":
        return
    crew = _Crew(
        logger=household.assigned_worker or users.coordinator,
        site=sites[active_index % len(sites)],
        pace=pace,
        owed=balance.owed,
        this_monday=today - timedelta(days=today.weekday()),
    )
    day = first_paid + timedelta(days=1)
    while day <= today and crew.done < crew.owed:
        if crew.works_on(day):
            _work_day(crew, household, enrollment, day, users.supervisor, today)
        day += timedelta(days=1)


def _work_day(
    crew: _Crew,
    household: Household,
    enrollment: Enrollment,
    day: date,
    supervisor: User,
    today: date,
) -> None:
    """Each member who may work logs a shift; before this week the supervisor decides it."""
    for member in household.members:
        if enrollment_services.work_refusal(member, enrollment, day) is not None:
            continue
        minutes = min(4 * 60 if crew.pace == "finished" else 3 * 60, crew.owed - crew.done)
        if minutes <= 0:
            break
        start = 8 * 60
        entry = work_services.log_work(
            crew.logger,
            member,
            crew.site,
            work_services.Shift(day, start, start + minutes),
            TASKS[crew.serial % len(TASKS)],
            today=today,
        )
        # Entered on the day worked, as in the field (not all at the moment the demo is built).
        entry.logged_at = datetime.combine(day, time(15, 0), clock.zone()).astimezone(UTC)
        crew.serial += 1
        if day >= crew.this_monday:
            continue  # this week's hours wait for the supervisor
        if crew.serial % 11 == 5:
            work_services.reject(
                supervisor, entry, "Членот не дојде на локацијата тој ден.", today=today
            )
            continue
        work_services.verify(supervisor, entry, today=today)
        crew.done += minutes


def _one_correction(household: Household, users: DemoUsers, today: date) -> None:
    verified = [
        log
        for log in work_queries.logs_of(household)
        if log.status == "verified" and log.reverses_id is None
    ]
    if verified:
        work_services.correct(
            users.coordinator,
            verified[-1],
            "Часовите се запишани на погрешен член на домаќинството.",
            today=today,
        )


def _complete_finished(active: list[Household], users: DemoUsers, today: date) -> None:
    """The coordinator closes two families who worked off every hour: the report's completions."""
    balances = work_queries.balances(h.id for h in active)
    finished = [h for h in active if balances[h.id].owed and not balances[h.id].remaining][:2]
    for household in finished:
        enrollment = enrollment_services.open_enrollment(household)
        if enrollment is not None:
            enrollment_services.complete(
                users.coordinator,
                enrollment,
                on=balances[household.id].last_work_date or today,
                reason="Сите часови се одработени и потврдени.",
                today=today,
            )


def _closings(active: list[Household], users: DemoUsers, today: date) -> list[str]:
    """A family closed early (it moved away, hours still owed), one withdrawn and reopened by
    the coordinator, and a payment reversed after part of its hours were worked: that family
    shows the hours it worked beyond what it owes."""
    balances = work_queries.balances(h.id for h in active)
    still_open = [
        (h, e) for h in active if (e := enrollment_services.open_enrollment(h)) is not None
    ]
    owing = [(h, e) for h, e in still_open if balances[h.id].remaining and balances[h.id].verified]
    if len(owing) < 3:
        return []
    moved_enrollment, back_enrollment = owing[-1][1], owing[-2][1]
    enrollment_services.close_early(
        users.coordinator,
        moved_enrollment,
        enrollment_services.EarlyClosing(
            on=today - timedelta(days=3),
            reason=CloseReason.MOVED_AWAY,
            note="Семејството се пресели кај роднини во Германија; часовите не се одработени.",
        ),
        today=today,
    )
    enrollment_services.withdraw(
        users.coordinator,
        back_enrollment,
        on=today - timedelta(days=10),
        reason="Семејството изјави дека се сели во Скопје.",
        today=today,
    )
    enrollment_services.reopen(
        users.coordinator,
        back_enrollment,
        reason="Семејството остана во Кичево и продолжува да работи; изјавата е повлечена.",
        today=today,
    )
    shown = [
        f"{owing[-1][0].case_number} closed early (moved away)",
        f"{owing[-2][0].case_number} withdrawn and reopened",
    ]
    for household, _enrollment in owing[:-2]:
        obligations = work_queries.obligations_of(household)
        largest = max(obligations, key=lambda o: o.minutes)
        if balances[household.id].verified > balances[household.id].owed - largest.minutes:
            payment_services.reverse_payment(
                users.officer,
                largest.payment,
                "ЕВН го врати уплатеното: долгот бил веќе отпишан со судска спогодба.",
                on=today,
                today=today,
            )
            return [*shown, f"{household.case_number} a payment reversed after work"]
    return shown


def _corrected_statement(active: list[Household], users: DemoUsers, today: date) -> list[str]:
    """A communal statement entered with the wrong amount (900 ден. too much), on which nothing
    was requested yet, replaced by the right one: the money page shows it struck out, with the
    reason, and only the right one counts."""
    for household in active[10:]:
        account = max(payment_services.accounts_of(household), key=lambda a: a.customer_number)
        typed = next((a for a in account.arrears if a.counts), None)
        if typed is None or payment_queries.requests_on(typed) or typed.principal_deni < 1_000_00:
            continue
        right = typed.principal_deni - 900_00
        payment_services.replace_arrear(
            users.coordinator,
            typed,
            payment_services.ArrearData(
                period_from=typed.period_from,
                period_to=typed.period_to,
                principal_deni=right,
                penalty_deni=typed.penalty_deni,
                statement_ref=typed.statement_ref,
                received_on=typed.received_on,
            ),
            "Погрешно внесен главен долг: внесено "
            f"{formatting.money(typed.principal_deni, 'mk')}, на опомената стои "
            f"{formatting.money(right, 'mk')}",
            today=min(typed.received_on + timedelta(days=3), today),
        )
        return [f"{household.case_number} a statement corrected"]
    return []


def _work_queues(active: list[Household], users: DemoUsers, today: date) -> list[str]:
    """A second row on each work queue: a communal debt approved last week whose payment the
    officer has still to record, and one rejected back to the coordinator for a missing copy."""
    free = [
        (household, arrear)
        for household in active[12:]
        if payment_services.active_enrollment_of(household) is not None
        for account in payment_services.accounts_of(household)
        for arrear in account.arrears
        if arrear.counts
        and arrear.account.creditor.short_name == "Комуналец"
        and not payment_queries.requests_on(arrear)
    ]
    if len(free) < 2:
        return []
    (to_pay, first), (to_fix, second) = free[0], free[1]
    asked = today - timedelta(days=9)
    approved = payment_services.request_payment(
        users.coordinator,
        first,
        first.total_deni,
        "Долг за вода и отпад од периодот на повикот.",
        today=asked,
        submit_now=True,
    )
    payment_services.approve(users.officer2, approved, today=asked + timedelta(days=2))
    returned = payment_services.request_payment(
        users.coordinator,
        second,
        second.total_deni,
        "Долг за вода и отпад; опомена пред тужба.",
        today=asked,
        submit_now=True,
    )
    payment_services.reject(
        users.officer,
        returned,
        "Недостасува копија од опомената од Комуналец; приложете ја и поднесете повторно.",
        today=asked + timedelta(days=3),
    )
    return [
        f"{to_pay.case_number} approved, its payment to record",
        f"{to_fix.case_number} rejected back to the coordinator",
    ]


def programme_opening(today: date) -> date:
    """The Monday about ten weeks before ``today``: the call for applications opens."""
    ten_weeks_ago = today - timedelta(weeks=10)
    return ten_weeks_ago - timedelta(days=ten_weeks_ago.weekday())


DEMO_USERNAMES = (
    "admin",
    "coordinator",
    "worker",
    "worker2",
    "officer",
    "officer2",
    "supervisor",
    "auditor",
)


def _privacy_trail(users: DemoUsers, registered: list[Household]) -> None:
    """Some reading of personal data, so the auditor's access log has believable rows:
    the coordinator's and the workers' visits, and one national ID shown with its reason."""
    for household in registered[:6]:
        log_access(
            users.coordinator,
            AccessAction.VIEW_HOUSEHOLD,
            household_id=household.id,
            municipality_id=household.municipality_id,
        )
    for household in registered[6:9]:
        worker = users.worker if household.assigned_worker_id == users.worker.id else users.worker2
        log_access(
            worker,
            AccessAction.VIEW_HOUSEHOLD,
            household_id=household.id,
            municipality_id=household.municipality_id,
        )
    head = registered[2].members[0]
    reveal_national_id(
        users.coordinator,
        head,
        "ЕВН бара ЕМБГ за поврзување на сметката со носителот на домаќинството",
    )


def _retained_family(
    users: DemoUsers, kicevo: Municipality, ngo: Organization, today: date, rng: random.Random
) -> None:
    """A family of an earlier call, withdrawn more than five years ago: its retention period
    has run out, so ``casework retention`` anonymised it. Its case and amounts remain."""
    opened = today.replace(month=1, day=15) - timedelta(days=365 * 7)
    earlier = create_programme(
        users.admin,
        kicevo,
        ngo,
        ProgrammeData(
            name="Пилот-повик за одговорна социјална поддршка – Кичево",
            donor="ЦГИ Прилеп",
            starts_on=opened,
            ends_on=opened + timedelta(days=300),
            budget_deni=100_000_00,
            hourly_value_deni=100_00,
            approval_threshold_deni=25_000_00,
        ),
    )
    commission = [
        enrollment_services.add_commission_member(users.coordinator, earlier, name, seat)
        for name, seat in COMMISSION
    ]
    head_birth = date(1979, 4, 2)
    household = create_household(
        users.coordinator,
        kicevo,
        HouseholdData(address="ул. Кочо Рацин бр. 12", settlement="Кичево", language="mk"),
        MemberData(
            first_name="Сефер",
            last_name="Мемедовски",
            birth_date=head_birth,
            national_id=national_id(head_birth, False, rng),
            relation=Relation.HEAD.value,
        ),
        today=today,
    )
    enrollment = enrollment_services.apply(
        users.coordinator, household, earlier, applied_on=opened + timedelta(days=3), today=today
    )
    enrollment_services.record_decision(
        users.coordinator,
        enrollment,
        enrollment_services.DecisionData(
            decided_on=opened + timedelta(days=20),
            outcome="approved",
            votes={m.id: "for" for m in commission},
            reference="Записник бр. 08-112",
        ),
        today=today,
    )
    enrollment_services.sign_agreement(
        users.coordinator,
        enrollment,
        signed_on=opened + timedelta(days=27),
        reference="Договор бр. 03-41",
        signatory_ids=[household.members[0].id],
        today=today,
    )
    enrollment_services.withdraw(
        users.coordinator,
        enrollment,
        on=opened + timedelta(days=120),
        reason="Семејството се отсели од општината.",
        today=today,
    )
    for due in households_due_for_retention(today):
        anonymise_household(None, due.household, now=utcnow())


def fill_demo(password: str, households: int = 30, today: date | None = None) -> str:
    """Create the Kičevo programme, its users and ``households`` families; return a summary."""
    today = today or clock.today()
    opened = programme_opening(today)
    rng = random.Random(2021)
    _issued.clear()
    kicevo = create_municipality(None, "KIC", "Кичево", name_sq="Kërçovë")
    prilep = create_municipality(None, "PRI", "Прилеп")
    create_organization(None, OrganizationKind.MUNICIPALITY, "Општина Кичево", municipality=kicevo)
    ngo = create_organization(
        None,
        OrganizationKind.NGO,
        "Центар за граѓански иницијативи Прилеп",
        short_name="ЦГИ Прилеп",
    )
    evn = create_organization(
        None, OrganizationKind.CREDITOR, "ЕВН Хоум ДООЕЛ Скопје", short_name="EVN Home"
    )
    komunalec = create_organization(
        None,
        OrganizationKind.CREDITOR,
        "ЈКП „Комуналец“ Кичево",
        municipality=kicevo,
        short_name="Комуналец",
    )
    enterprise = create_organization(
        None,
        OrganizationKind.PUBLIC_ENTERPRISE,
        "ЈКП „Комуналец“ Кичево",
        municipality=kicevo,
        short_name="Комуналец",
    )
    users = _users(password, kicevo, enterprise)
    kicevo_programme = create_programme(
        users.admin,
        kicevo,
        ngo,
        ProgrammeData(
            name="Програма за одговорна социјална поддршка – Кичево",
            donor="Германско сојузно министерство за надворешни работи",
            starts_on=opened,
            ends_on=opened + timedelta(days=360),
            budget_deni=1_200_000_00,
            hourly_value_deni=100_00,
            approval_threshold_deni=25_000_00,
            work_deadline_days=180,
            debt_period_from=opened - timedelta(days=372),
            debt_period_to=opened - timedelta(days=8),
        ),
        [evn, komunalec],
    )
    commission = [
        enrollment_services.add_commission_member(users.coordinator, kicevo_programme, name, seat)
        for name, seat in COMMISSION
    ]
    create_programme(
        users.admin,
        prilep,
        ngo,
        ProgrammeData(
            name="Одговорна социјална поддршка – Прилеп",
            donor="ЦГИ Прилеп",
            starts_on=opened + timedelta(weeks=8),
            ends_on=None,
            budget_deni=600_000_00,
            hourly_value_deni=110_00,
            approval_threshold_deni=25_000_00,
        ),
    )
    registered = []
    for index in range(households):
        household = _household(rng, index, users, kicevo, opened, today)
        _enroll(
            rng, index, household, kicevo_programme, commission, users.coordinator, opened, today
        )
        _debts(rng, index, household, kicevo_programme, (evn, komunalec), users.coordinator, today)
        registered.append(household)
    active = [h for h in registered if PATHS.get(registered.index(h), "active") == "active"]
    for active_index, household in enumerate(active):
        _payments(active_index, household, kicevo_programme, users, today)
    sites = [
        work_services.add_site(users.coordinator, enterprise, name, place, kind)
        for name, place, kind in SITES
    ]
    for active_index, household in enumerate(active):
        _work(active_index, household, sites, users, today)
    _one_correction(active[9], users, today)
    showcase = _corrected_statement(active, users, today)
    monday = today - timedelta(days=today.weekday())
    for weeks_ago in range(5, -1, -1):
        run_check(
            kicevo_programme,
            monday - timedelta(weeks=weeks_ago),
            today=today,
            trigger=Trigger.SCHEDULED,
        )
    _complete_finished(active, users, today)
    showcase += _closings(active, users, today)
    showcase += _work_queues(active, users, today)
    showcase += _overdue_family(registered, users, kicevo, ngo, evn, sites[0], today)
    set_targets(
        users.coordinator,
        kicevo_programme,
        Targets(families=30, debt_deni=1_000_000_00, minutes=10_000 * 60),
    )
    for index, household in enumerate(registered[: len(NOTES) * 3 : 3]):
        text, visibility = NOTES[index]
        add_note(
            users.coordinator,
            household,
            text,
            visibility,
            written_on=opened + timedelta(days=5 + index),
            today=today,
        )
    _duplicate_candidate(users.coordinator, kicevo, registered[4], today)
    _privacy_trail(users, registered)
    _retained_family(users, kicevo, ngo, today, rng)
    lines = ["Demo users (username: role):"]
    for username, role in (
        ("admin", "admin"),
        ("coordinator", "coordinator (Кичево)"),
        ("worker", "social worker (Кичево)"),
        ("worker2", "social worker (Кичево)"),
        ("officer", "municipal officer (Кичево)"),
        ("officer2", "municipal officer (Кичево)"),
        ("supervisor", "site supervisor (ЈКП Комуналец)"),
        ("auditor", "auditor (donor)"),
    ):
        lines.append(f"  {username:<12} {role}")
    lines.append(
        f"{households + 1} households registered in Кичево: applications in every state, "
        "a possible duplicate to decide, case notes, debts and payment requests in every "
        "state, three work sites with weeks of logged and confirmed hours, six weekly "
        "balance checks with alerts; and one family of an earlier call, anonymised when its "
        "retention period ran out."
    )
    lines.append(f"Corrections and closings to look at: {'; '.join(showcase)}.")
    lines.append("Demo API tokens (curl -H 'Authorization: Bearer TOKEN' .../api/v1/me):")
    for username in DEMO_USERNAMES:
        user = getattr(users, username)
        _token, secret = create_token(user, user, "demo")
        lines.append(f"  {username:<12} {secret}")
    lines.append(
        "To try an import, log in as coordinator, open Import on the programme and upload "
        f"households.csv, then arrears.csv from {EXAMPLES_DIR} "
        "(households-with-errors.csv shows the error report; households-large.csv, 800 "
        "families, is checked and imported by the worker with a progress bar)."
    )
    lines.append(
        "Long work runs in this process's job worker: the checks page's 'Check every family "
        "now' and the XLSX exports show their progress, then the result. /healthz and /readyz "
        "answer for a monitor."
    )
    return "\n".join(lines)


def _overdue_family(
    registered: list[Household],
    users: DemoUsers,
    kicevo: Municipality,
    ngo: Organization,
    evn: Organization,
    site: WorkSite,
    today: date,
) -> list[str]:
    """A family of last winter's call, still working off its electricity debt after that
    call's 90-day deadline: overdue at the check (the commission turned down its application
    to the new call: its debts belong to the earlier one)."""
    household = registered[19]
    opened = today - timedelta(days=300)
    winter = create_programme(
        users.admin,
        kicevo,
        ngo,
        ProgrammeData(
            name="Зимски повик за одговорна социјална поддршка – Кичево",
            donor="Општина Кичево",
            starts_on=opened,
            ends_on=opened + timedelta(days=270),
            budget_deni=150_000_00,
            hourly_value_deni=100_00,
            approval_threshold_deni=25_000_00,
            work_deadline_days=90,
        ),
        [evn],
    )
    commission = [
        enrollment_services.add_commission_member(users.coordinator, winter, name, seat)
        for name, seat in COMMISSION
    ]
    coordinator = users.coordinator
    enrollment = enrollment_services.apply(
        coordinator, household, winter, applied_on=opened + timedelta(days=4), today=today
    )
    enrollment_services.record_decision(
        coordinator,
        enrollment,
        enrollment_services.DecisionData(
            decided_on=opened + timedelta(days=18),
            outcome="approved",
            votes={m.id: "for" for m in commission},
            reference="Записник бр. 08-031",
        ),
        today=today,
    )
    signed_on = opened + timedelta(days=25)
    enrollment_services.sign_agreement(
        coordinator,
        enrollment,
        signed_on=signed_on,
        reference=f"З-07/{signed_on.year}",
        signatory_ids=[household.members[0].id],
        today=today,
    )
    account = next(a for a in payment_services.accounts_of(household) if a.creditor_id == evn.id)
    arrear = payment_services.record_arrear(
        coordinator,
        account,
        payment_services.ArrearData(
            period_from=opened - timedelta(days=400),
            period_to=opened - timedelta(days=200),
            principal_deni=11_200_00,
            penalty_deni=800_00,
            statement_ref="Опомена ЕВН бр. 2207-118",
            received_on=opened + timedelta(days=6),
        ),
        today=today,
    )
    day = signed_on + timedelta(days=3)
    request = payment_services.create_request(
        coordinator, enrollment, arrear, 12_000_00, "Опомена пред исклучување, зимски период.",
        today=day,
    )  # fmt: skip
    payment_services.submit(coordinator, request, today=day)
    payment_services.approve(users.officer, request, today=day + timedelta(days=2))
    paid_on = day + timedelta(days=5)
    payment_services.record_payment(
        users.officer,
        request,
        payment_services.PaymentData(
            paid_on, f"Извод бр. {paid_on:%m}-{request.id:04d}", 12_000_00
        ),
        today=today,
    )
    # 36 of its 120 hours, one morning a week; then the work stopped
    for week in range(12):
        work_day = paid_on + timedelta(days=3 + 7 * week)
        worker = next(
            m
            for m in household.members
            if enrollment_services.work_refusal(m, enrollment, work_day) is None
        )
        entry = work_services.log_work(
            household.assigned_worker or coordinator,
            worker,
            site,
            work_services.Shift(work_day, 8 * 60, 11 * 60),
            TASKS[week % len(TASKS)],
            today=today,
        )
        work_services.verify(users.supervisor, entry, today=today)
    run_check(
        winter, today - timedelta(days=today.weekday()), today=today, trigger=Trigger.SCHEDULED
    )
    return [f"{household.case_number}: overdue in the winter call (90-day deadline)"]
