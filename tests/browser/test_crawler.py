"""The crawler: every demo role, in Macedonian, Albanian and English, at a phone's and a desk's
width, opens the pages its navigation and home page link to (and the pages those link to), as a
new user clicking through would. It collects every problem such a user trips over and fails
once, with the whole list (also in ``test-output/crawler.txt``):

- a 4xx or 5xx answer to one of the app's own links;
- an error in the browser's console (a CSP violation, a script error, a missing file);
- an English form-library message (WTForms') on a Macedonian or Albanian page: each distinct
  page's forms are sent once with their required fields emptied (``novalidate``), the forms
  whose sending changes something even when empty (buttons without a required field) aside;
- a page wider than the phone (it scrolls sideways at 390 px);
- an axe-core serious or critical violation (``vendor/axe-core``), once per distinct page and
  language at the desk and once per distinct page on the phone. The desk is in the light colour
  scheme, the phone in the dark one (as many phones are): the colours are checked in both.

Bounded: pages are told apart by their path with ids replaced (``/households/<id>``), each
role opens at most ``MAX_PAGES`` of them, and nothing that logs out, downloads a file or is the
API is followed."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import wtforms
from babel.messages.pofile import read_po

from tests.browser.conftest import OUTPUT, PASSWORD, Server, Session

pytestmark = pytest.mark.browser

ROLES = (
    "coordinator",
    "worker",
    "worker2",
    "officer",
    "officer2",
    "supervisor",
    "auditor",
    "admin",
)
LOCALES = ("mk", "sq", "en")
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
SCHEMES = {"desktop": "light", "phone": "dark"}
PHONE_WIDTH = VIEWPORTS["phone"]["width"]
MAX_PAGES = 40  # per role
DEPTH = 3  # clicks from the home page
NOT_FOLLOWED = re.compile(
    r"^/(api|static)/|^/logout$|^/language$|\.(csv|pdf|xlsx|json|zip)$|^/jobs/\d+/file$|^/exports/"
)
NOT_SENT = re.compile(r"^/(logout|language)$")  # forms left alone even when they look safe
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_FAILS = ("serious", "critical")
ID = re.compile(r"(?<=/)\d+(?=[/.?\s]|$)")


def template(path: str) -> str:
    """A page's kind: its path with every id replaced (``/households/<id>/money``)."""
    return ID.sub("<id>", path)


def english_messages() -> re.Pattern[str]:
    """WTForms' own English messages (its catalogue template), as a pattern that matches them
    with any figures filled in."""
    with (Path(wtforms.__file__).parent / "locale" / "wtforms.pot").open("rb") as pot:
        catalog = read_po(pot)
    texts: list[str] = []
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts.extend(str(text) for text in ids if text)
    placeholder = re.compile(r"%(?:\(\w+\))?[sd]")
    parts = [".+?".join(re.escape(p) for p in placeholder.split(t)) for t in texts]
    return re.compile("|".join(sorted(set(parts), key=len, reverse=True)))


ENGLISH = english_messages()

WIDE_ELEMENTS = """() => {
  const limit = document.documentElement.clientWidth + 1;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    [...e.classList].map((c) => '.' + c).join('');
  const wide = [...document.body.querySelectorAll('*')].filter(
    (e) => e.getBoundingClientRect().right > limit && getComputedStyle(e).position !== 'fixed');
  const outermost = wide.filter((e) => !wide.includes(e.parentElement));
  return [...new Set(outermost.map(name))].slice(0, 4);
}"""

AXE_RUN = """(fails) => axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations
  .filter((v) => fails.includes(v.impact))
  .map((v) => `axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.length}×, e.g. ` +
    v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ') + ')'))"""

# The forms of a page that are safe to send empty: a GET (a filter) or a POST with a required
# field, which the server refuses when it is empty. A POST of buttons only (confirm, approve,
# mark as read, run the check) would do its work, so it is left alone.
SAFE_FORMS = """(notSent) => [...document.forms].map((form, index) => {
  // getAttribute: a field named `action` (the audit's filter) shadows form.action
  const action = new URL(form.getAttribute('action') || location.href, location.href).pathname;
  const method = (form.getAttribute('method') || 'get').toLowerCase();
  const skip = ['hidden', 'submit', 'button', 'reset', 'image', 'checkbox', 'radio'];
  const fields = [...form.elements].filter(
    (e) => ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName) && !skip.includes(e.type));
  const required = fields.some((e) => e.required);
  const safe = !new RegExp(notSent).test(action) && (method === 'get' || required);
  return {index, action, method, fields: fields.map((e) => e.name).sort().join(','), safe};
}).filter((f) => f.safe)"""

SEND_EMPTY = """(index) => {
  const form = document.forms[index];
  for (const e of form.elements) {
    if (e.tagName === 'SELECT') {
      const empty = [...e.options].find((o) => o.value === '');
      if (empty) e.value = '';
    } else if (e.type === 'checkbox' || e.type === 'radio') {
      e.checked = false;
    } else if (['INPUT', 'TEXTAREA'].includes(e.tagName) &&
               !['hidden', 'submit', 'button', 'reset', 'image'].includes(e.type)) {
      e.value = '';
    }
  }
  form.noValidate = true;
  form.setAttribute('novalidate', '');
  const button = form.querySelector('button:not([type]), button[type=submit], input[type=submit]');
  form.requestSubmit(button || undefined);
}"""


@dataclass(frozen=True)
class Problem:
    role: str
    locale: str
    viewport: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.role:<11} {self.locale} {self.viewport:<7} {self.path}  {self.problem}"


@dataclass
class Crawl:
    """What the crawl has seen: each page kind is checked by axe and has its forms sent once
    per language (and viewport), not once per role."""

    browser: Any
    server: Server
    problems: list[Problem] = field(default_factory=list)
    axed: set[tuple[str, str]] = field(default_factory=set)
    sent: set[tuple[str, str, str]] = field(default_factory=set)
    opened: int = 0

    def role(self, username: str) -> None:
        tab = Tab(self, username)
        try:
            tab.login()
            links = tab.discover()
            assert len(links) > 2, f"{username}: the crawler found no links on {links}"
            for locale in LOCALES:
                tab.speak(locale)
                for viewport in VIEWPORTS:
                    if (locale, viewport) == (LOCALES[0], "desktop"):
                        continue  # checked while discovering
                    tab.resize(viewport)
                    for url, source in links.items():
                        tab.check(url, source)
        finally:
            tab.session.context.close()

    def report(self, seconds: float) -> str:
        """The problems one per line, after a count of each kind of problem on each kind of
        page (the same cause shows in many roles, languages and widths)."""
        problems = sorted(set(self.problems), key=_order)
        causes: dict[str, int] = {}
        for problem in problems:
            cause = f"{template(problem.path)}  {_cause(problem.problem)}"
            causes[cause] = causes.get(cause, 0) + 1
        summary = (
            f"{len(problems)} problems; {self.opened} pages opened, {len(self.axed)} axe runs, "
            f"{len(self.sent)} forms sent empty, in {seconds:.0f} s "
            f"({len(ROLES)} roles × {len(LOCALES)} languages × {len(VIEWPORTS)} viewports)"
        )
        return "\n".join(
            [
                summary,
                "",
                "By cause (times seen, page kind, problem):",
                *(f"{n:>4}  {cause}" for cause, n in sorted(causes.items())),
                "",
                "role        lang viewport path  problem",
                *map(str, problems),
                "",
                "Forms sent empty (page kind, language, form):",
                *(f"  {kind}  {locale}  {form}" for kind, locale, form in sorted(self.sent)),
            ]
        )


def _cause(problem: str) -> str:
    """A problem without what varies between its sightings (widths, counts, examples)."""
    problem = re.sub(r"\d+ px wide", "N px wide", template(problem))
    problem = re.sub(r" \(linked from .*\)$", "", problem)
    return re.sub(r" \(\d+×, e\.g\. .*\)$", "", problem)


def _order(problem: Problem) -> tuple[str, ...]:
    return (problem.role, problem.locale, problem.viewport, problem.path, problem.problem)


class Tab:
    """One role's browser tab: logged in once, then switched between languages and widths."""

    def __init__(self, crawl: Crawl, username: str) -> None:
        self.crawl, self.username = crawl, username
        self.session = Session(crawl.browser, crawl.server)
        self.page = self.session.page
        self.page.set_default_timeout(15_000)
        self.page.on("dialog", lambda dialog: dialog.accept())
        self.locale, self.viewport = "mk", "desktop"
        self.landed = ""  # where the last page opened ended up, after any redirect
        self.resize("desktop")

    def login(self) -> None:
        page = self.session.open("/login")
        page.fill("#username", self.username)
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert urlsplit(page.url).path != "/login", f"{self.username} could not log in"
        self.speak(LOCALES[0])

    def speak(self, locale: str) -> None:
        """The language switch of the page's header (clicked as a script: on a phone it may
        sit in a closed menu), on the home page."""
        self.locale = locale
        self.session.open("/")
        with self.page.expect_navigation():
            self.page.evaluate(
                "(code) => document.querySelector("
                "`form[action$='/language'] button[value=${code}]`).click()",
                locale,
            )
        assert self.page.evaluate("document.documentElement.lang") == locale

    def resize(self, viewport: str) -> None:
        self.viewport = viewport
        self.page.set_viewport_size(VIEWPORTS[viewport])
        self.page.emulate_media(color_scheme=SCHEMES[viewport])

    def problem(self, path: str, text: str) -> None:
        self.crawl.problems.append(Problem(self.username, self.locale, self.viewport, path, text))

    def discover(self) -> dict[str, str]:
        """The pages to check, each with the page that links to it: the home page, what it and
        the navigation link to, and onwards up to ``DEPTH`` clicks from home; one page of each
        kind, at most ``MAX_PAGES``. Found in Macedonian at the desk, and checked there on the
        way; a link that only sends the browser on to a page already found (``/`` to the role's
        home) is not opened again."""
        home = urlsplit(self.page.url).path
        links: dict[str, str] = {home: "(home)"}
        kinds = {template(home)}
        frontier = [home]
        for depth in range(DEPTH + 1):
            found: list[str] = []
            for url in frontier:
                on_page = self.check(url, links[url])
                landed = template(self.landed)
                if landed != template(urlsplit(url).path) and landed in kinds:
                    del links[url]
                for link in on_page if depth < DEPTH else []:
                    kind = template(urlsplit(link).path)
                    if kind in kinds or len(links) >= MAX_PAGES:
                        continue
                    kinds.add(kind)
                    links[link] = url
                    found.append(link)
            frontier = found
        return links

    def check(self, url: str, source: str) -> list[str]:
        """Open one page and look at it as this role, language and width; the app's own links
        on it, for ``discover``."""
        from playwright.sync_api import TimeoutError as NoAnswer

        self.session.errors.clear()
        try:
            response = self.page.goto(self.crawl.server.url + url)
        except NoAnswer:
            response = None  # reported below, and the crawl goes on
        self.crawl.opened += 1
        path = self.landed = urlsplit(self.page.url).path
        if response is None or response.status >= 400:
            status = "no answer" if response is None else f"answers {response.status}"
            self.problem(url, f"{status} (linked from {source})")
            said = f"status of {response.status}" if response is not None else "\0"
            self.session.errors[:] = [e for e in self.session.errors if said not in e]
            self._console(url)
            return []
        self._look(url)
        links = self._links()
        if self.viewport == "desktop" and self.locale in ("mk", "sq"):
            self._send_forms(url, template(path))
        return links

    def _console(self, url: str, after: str = "") -> None:
        for error in self.session.errors:
            self.problem(url, f"console error{after}: {error}")
        self.session.errors.clear()

    def _look(self, url: str) -> None:
        self._console(url)
        self._english(url)
        if self.viewport == "phone":
            width = self.page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE_WIDTH:
                wide = ", ".join(self.page.evaluate(WIDE_ELEMENTS))
                self.problem(url, f"{width} px wide on a {PHONE_WIDTH} px phone (wide: {wide})")
        self._axe(url)

    def _english(self, url: str, after: str = "") -> None:
        if self.locale not in ("mk", "sq"):
            return
        found = sorted(set(ENGLISH.findall(self.page.inner_text("body"))))
        for text in found:
            self.problem(url, f"English form-library message{after}: {text!r}")

    def _axe(self, url: str) -> None:
        """axe-core, loaded with ``evaluate``: the app's CSP (``script-src 'self'``) refuses the
        inline script tag ``add_script_tag`` would add, and the CSP stays on for every other
        check. Once per page kind and language at the desk, once per page kind on the phone."""
        kind = template(urlsplit(self.page.url).path)
        key = (kind, self.locale if self.viewport == "desktop" else "phone")
        if key in self.crawl.axed:
            return
        self.crawl.axed.add(key)
        if not self.page.evaluate("typeof window.axe === 'object'"):
            self.page.evaluate(AXE.read_text())
        for violation in self.page.evaluate(AXE_RUN, list(AXE_FAILS)):
            self.problem(url, violation)

    def _send_forms(self, url: str, kind: str) -> None:
        """Each safe form of the page, sent once per page kind and language with its fields
        emptied: the messages the server answers must be in the page's language."""
        from playwright.sync_api import TimeoutError as NoAnswer

        fresh = True  # the page as opened; after a form is sent, it is opened again
        for form in self.page.evaluate(SAFE_FORMS, NOT_SENT.pattern):
            what = f"{form['method']} {template(form['action'])} {form['fields']}"
            if (kind, self.locale, what) in self.crawl.sent:
                continue
            self.crawl.sent.add((kind, self.locale, what))
            if not fresh:
                self.page.goto(self.crawl.server.url + url)
            fresh = False
            self.session.errors.clear()
            sending = f" after sending the form {form['method'].upper()} {form['action']} empty"
            try:
                with self.page.expect_navigation() as sent:
                    self.page.evaluate(SEND_EMPTY, form["index"])
                answer = sent.value
            except NoAnswer:
                self.problem(url, f"no answer{sending}")
                continue
            if answer is not None and answer.status >= 500:
                self.problem(url, f"answers {answer.status}{sending}")
            self._console(url, sending)
            self._english(url, sending)

    def _links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all(
            "a[href]:not([download])", "links => links.map((a) => a.href)"
        )
        own = urlsplit(self.crawl.server.url).netloc
        links: list[str] = []
        for href in hrefs:
            parts = urlsplit(href)
            if parts.netloc != own or NOT_FOLLOWED.search(parts.path):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in links:
                links.append(link)
        return links


def crawl(browser: Any, server: Server) -> tuple[Crawl, float]:
    started = time.monotonic()
    run = Crawl(browser, server)
    for username in ROLES:
        run.role(username)
    return run, time.monotonic() - started


def test_every_page_of_every_role_opens_fits_a_phone_and_passes_axe_in_three_languages(
    browser: Any, demo_server: Server
) -> None:
    run, seconds = crawl(browser, demo_server)
    report = run.report(seconds)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "crawler.txt").write_text(report + "\n")
    assert run.problems == [], report


def test_the_crawler_knows_the_form_librarys_english_messages_with_their_figures() -> None:
    assert ENGLISH.search("Field must be between 13 and 16 characters long.")
    assert ENGLISH.search("Грешка: This field is required.")
    assert ENGLISH.search("'x' is not a valid choice for this field.")
    assert not ENGLISH.search("Ова поле е задолжително. Fusha është e detyrueshme.")


def test_a_page_kind_is_its_path_with_the_ids_replaced() -> None:
    assert template("/households/12/money") == "/households/<id>/money"
    assert template("/programmes/3/report.pdf") == "/programmes/<id>/report.pdf"
    assert template("/home/officer2") == "/home/officer2"
