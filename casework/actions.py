"""The one shape of every page and API operation: load within scope, check, act, commit once.

A page view reads like this (``casework/work/views.py``; see the README's "Code layout")::

    @bp.post("/logs/<int:log_id>/reject")
    def reject(log_id: int) -> Response:
        log = visible(queries.get_visible_log(current_user, log_id))  # 404 outside the scope
        allow(policies.can_decide_log(current_user, log))  # 403
        back = redirect(url_for("households.detail", household_id=log.household_id))
        return perform(
            lambda: services.reject(current_user, log, reason, today=clock.today()),
            then=lambda _log: back,
            back=lambda: back,
            success=_("Recorded."),
        )

and an API operation the same, without the form: ``visible``, ``allow``, one service call,
and ``casework.api.views.write`` commits (``@write``). Neither holds a try/except, a commit or
a rule of its own: rules are the services', access rules ``security/policies.py``'s.

Every form a page draws carries a one-time key (``KeyedForm.hidden_tag``, or
``{{ form_key() }}`` in a form written by hand). ``submit``, ``perform``, ``respond`` and
``each`` claim it in the same transaction as the work and remember where the answer sent
the browser: a second copy of the same form (a double click, a browser's re-POST, a copy sent
at the same moment) records nothing and is sent to the same place, with a notice. A refused
submit rolls its claim back with its work, so the corrected form can be sent again. A POST
without a key (a page opened before keys existed, a script) is done as before: the key is a
guard against copies, not a permission (the CSRF token is that); the API has its own
``Idempotency-Key``.

Why the response is made *before* the commit: committing expires every loaded row, and
reading an id or a name afterwards begins a new transaction, which on SQLite queues behind
the write lock a worker may hold by then (a 503 after the work was done).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import abort, flash, has_request_context, redirect, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.db import utcnow
from casework.errors import DomainError
from casework.extensions import db
from casework.formkeys import services as form_keys
from casework.formkeys.models import FormKey
from casework.forms_common import FORM_KEY, show_domain_error
from casework.plain_text import has_control

T = TypeVar("T")

Then = Callable[[T], Response]
Message = str | Callable[[T], str] | None


def chosen(found: T | None) -> T:
    """A choice the form itself offered, gone since it was drawn (another user removed it):
    a 400, as for any answer the form could not have sent."""
    if found is None:
        abort(400)
    return found


def visible(found: T | None) -> T:
    """The object a scoped query found, or a 404: a row outside the user's scope is answered
    exactly as one that does not exist, so ids reveal nothing."""
    if found is None:
        abort(404)
    return found


def allow(allowed: bool) -> None:
    """A 403 unless the policy allowed it (the user sees the object, but may not do this)."""
    if not allowed:
        abort(403)


def submit(
    form: Any,
    act: Callable[[], T],
    *,
    then: Then[T],
    success: Message[T] = None,
    forms: tuple[Any, ...] = (),
    also: Callable[[], object] | None = None,
) -> Response | None:
    """A page's form: when it validates, ``act`` runs as one unit of work. Done, the page's
    ``then`` response is made and the work committed; refused, the work is rolled back and
    each refusal shown beside the field it names (in ``form`` or one of ``forms``). ``None``
    while the page should render (not submitted, invalid, or refused). A copy of a form
    already sent is answered before it is read (its choices may have changed since).

    ``also``: the service's check of what the form has (it writes nothing), run when a field
    of the form itself is refused, so that the service's refusals of the other fields show
    in the same answer, not one round trip later."""
    first = _already_sent(_posted_key())
    if first is not None:
        return first
    if not form.validate_on_submit():
        if also is not None and form.is_submitted():
            _also_refused(also, form, *forms)
        return None
    return unit_of_work(
        act, then=then, success=success, refused=lambda e: show_domain_error(e, form, *forms)
    )


def _also_refused(check: Callable[[], object], *forms: Any) -> None:
    """The service's refusals of the fields the form itself accepted (a field with an error
    of its own keeps that one: it says what to fix first)."""
    try:
        check()
    except DomainError as error:
        kept = [(name, message) for name, message in error.errors if not _has_errors(name, forms)]
        if kept:
            error.errors = kept
            show_domain_error(error, *forms)


def _has_errors(name: str | None, forms: tuple[Any, ...]) -> bool:
    field = next((getattr(f, name, None) for f in forms if name and hasattr(f, name)), None)
    return bool(getattr(field, "errors", None))


def perform(
    act: Callable[[], T],
    *,
    then: Then[T],
    back: Callable[[], Response],
    success: Message[T] = None,
) -> Response:
    """A button without fields (confirm, approve, cancel): a refusal is flashed and the user
    sent ``back`` where the button was."""
    made = unit_of_work(act, then=then, success=success, refused=_flash_all)
    return made if made is not None else back()


def _flash_all(error: DomainError) -> None:
    for _field, message in error.errors:
        flash(message, "error")


def respond(
    act: Callable[[], T], *, then: Then[T], refused: Callable[[DomainError], Response]
) -> Response:
    """The general form, for an answer that is not a page with a form (a download link): a
    refusal becomes the response ``refused`` makes of it."""
    answers: list[Response] = []
    made = unit_of_work(act, then=then, refused=lambda error: answers.append(refused(error)))
    return made if made is not None else answers[0]


def checked(form: Any, check: Callable[[], object]) -> bool:
    """Input a service checks for a read (a report's period): False, with the refusal beside
    the field it names, when it is refused. Nothing was written, so nothing is rolled back."""
    try:
        check()
    except DomainError as error:
        show_domain_error(error, form)
        return False
    return True


def unit_of_work(
    act: Callable[[], T],
    *,
    then: Then[T],
    refused: Callable[[DomainError], None],
    success: Message[T] = None,
) -> Response | None:
    """Run ``act``; commit once, or roll back and hand the service's refusal to ``refused``.
    ``success`` is the message flashed when it is done (or a function of what ``act`` made).
    A form's key is claimed first, in the same transaction: a copy of a form already sent
    gets the first answer's place and does nothing."""
    key = _posted_key()
    first = _already_sent(key)
    if first is not None:
        return first
    claim = None
    if key is not None:
        claim = form_keys.claim(current_user, key, now=utcnow())
        if claim is None:  # a copy sent at the same moment claimed it first
            return _already_sent(key)
    try:
        result = act()
        response = then(result)
        message = success(result) if callable(success) else success
    except DomainError as error:
        db.session.rollback()
        refused(error)
        return None
    _remember(claim, response)
    if message:
        flash(message, "success")
    db.session.commit()
    return response


def _posted_key() -> str | None:
    """The one-time key the sent form carried, if it carried one."""
    if not has_request_context() or request.method != "POST":
        return None
    if not current_user.is_authenticated:
        return None
    key = request.form.get(FORM_KEY, "")
    # A key holding a control character was never issued (and PostgreSQL cannot look one up).
    return key if 0 < len(key) <= form_keys.MAX_LENGTH and not has_control(key) else None


def _already_sent(key: str | None) -> Response | None:
    """The first answer's place again, when this form's key was claimed already: nothing
    is done (what this request began is rolled back) and the user is told why."""
    seen = form_keys.sent(current_user, key) if key is not None else None
    if seen is None:
        return None
    place = seen.location or request.path  # read before the rollback expires the row
    db.session.rollback()
    flash(_("This form was already sent; it was recorded once."), "info")
    return redirect(place)


def _remember(claim: FormKey | None, response: Response) -> None:
    """Keep where the answer sent the browser. An answer that is itself a page (a token shown
    once, a revealed number) cannot be given again: its claim is dropped, unguarded."""
    if claim is None:
        return
    if 300 <= response.status_code < 400 and response.location:
        claim.location = response.location
    else:
        db.session.delete(claim)


def recorded(shown: T, trace: Callable[[], object]) -> T:
    """A read that leaves a trace (who opened which personal data: the access log). The
    answer is made first, so a page that fails leaves no entry; then the entry is written
    and committed, once."""
    trace()
    return done(shown)


def done(answer: T) -> T:
    """Work that no rule can refuse (a log-in attempt counted, a session ended) and its
    answer already made: committed once, here."""
    db.session.commit()
    return answer


def each(
    items: Iterable[T], act: Callable[[T], object], *, label: Callable[[T], str]
) -> tuple[int, list[str]]:
    """A batch whose items stand or fall on their own (the officer's queue of approvals):
    each ``act`` committed by itself, or rolled back with its refusal kept, prefixed with the
    item's ``label``. Returns how many were done and the refusals. The form's key is claimed
    with the first item done; a copy of a batch already sent does nothing (the page then
    sends the user where it always does)."""
    unclaimed = _posted_key()
    if _already_sent(unclaimed) is not None:
        return 0, []
    count, refused = 0, []
    for item in items:
        name = label(item)  # before: a rollback expires the row, and reading it would query
        if unclaimed is not None and not _claim_batch(unclaimed):
            break
        try:
            act(item)
        except DomainError as error:
            db.session.rollback()
            refused.append(f"{name}: {error.message}")
        else:
            db.session.commit()
            count += 1
            unclaimed = None  # claimed with this item, for good
    return count, refused


def _claim_batch(key: str) -> bool:
    """Claim a batch's key with its next item; False (and the notice) when a copy of the
    batch sent at the same moment has it."""
    if form_keys.claim(current_user, key, now=utcnow(), location=request.path) is not None:
        return True
    _already_sent(key)
    return False
