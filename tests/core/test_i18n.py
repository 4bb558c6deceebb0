"""English and Simplified Chinese: the catalogue is complete and shipped compiled, pages render in
Chinese with Chinese dates and numbers, and the language switcher changes the language.

To update the catalogue after adding or changing a marked string:

    DEBUG=1 .venv/bin/python manage.py makemessages -l zh_Hans   # then translate the new entries
    DEBUG=1 .venv/bin/python manage.py compilemessages
"""

import re
import shutil
from datetime import datetime, time
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from core.management.commands.makemessages import PROJECT_IGNORE
from tests.factories import CustomerFactory, VisitFactory

LOCALE = "zh_Hans"
PO_PATH = Path(settings.BASE_DIR) / "locale" / LOCALE / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
HOW_TO_UPDATE = (
    "run `manage.py makemessages -l zh_Hans`, translate every new or fuzzy entry, then `manage.py compilemessages`"
)
# makemessages reads these for the "django" domain; the rest of the tree is irrelevant to it.
SOURCE_SUFFIXES = {".py", ".html", ".txt"}

# printf-style placeholders (%(name)s, %s, %.1f, %%) and str.format ones ({name}).
PERCENT_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
BRACE_PLACEHOLDER = re.compile(r"\{\w*\}")


def _key(entry) -> tuple[str | None, str, str]:
    return entry.msgctxt, entry.msgid, entry.msgid_plural


def _active(catalogue) -> list:
    """The catalogue's messages, without the header and the obsolete (#~) entries."""
    return [entry for entry in catalogue if entry.msgid and not entry.obsolete]


def _translations(catalogue) -> dict[tuple, tuple[str, ...]]:
    return {
        _key(entry): (
            tuple(entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural))
            if entry.msgid_plural
            else (entry.msgstr,)
        )
        for entry in _active(catalogue)
    }


def _listing(keys, limit: int = 15) -> str:
    shown = "\n  ".join(repr(msgid) for _ctx, msgid, _plural in sorted(keys, key=str)[:limit])
    more = f"\n  ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"\n  {shown}{more}"


# --- The catalogue -----------------------------------------------------------------------------


def test_the_shipped_catalogue_translates_every_entry_with_no_fuzzy_one():
    po = polib.pofile(str(PO_PATH))

    assert po.metadata["Language"] == LOCALE
    assert po.metadata["Plural-Forms"] == "nplurals=1; plural=0;"  # Chinese has one plural form
    assert not po.metadata_is_fuzzy, "the catalogue's header is marked fuzzy: Django would ignore its plural forms"
    untranslated = [_key(entry) for entry in po.untranslated_entries()]
    fuzzy = [_key(entry) for entry in po.fuzzy_entries()]
    assert not untranslated, f"{len(untranslated)} untranslated entries in {PO_PATH}:{_listing(untranslated)}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries in {PO_PATH} (check and unmark them):{_listing(fuzzy)}"
    plural_forms = {len(entry.msgstr_plural) for entry in _active(po) if entry.msgid_plural}
    assert plural_forms <= {1}, "a plural entry has more than the one form Chinese uses"
    assert len(_active(po)) > 1000  # the whole interface, not a sample


def test_every_translation_keeps_the_placeholders_of_its_message():
    """A translation that drops or renames %(name)s or {name} breaks the page that formats it."""
    wrong = []
    for entry in _active(polib.pofile(str(PO_PATH))):
        source = entry.msgid_plural or entry.msgid  # Chinese's single form also serves n == 1
        checks = []
        if "python-format" in entry.flags:
            checks.append(PERCENT_PLACEHOLDER)
        if "python-brace-format" in entry.flags:
            checks.append(BRACE_PLACEHOLDER)
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for pattern in checks:
            expected = sorted(pattern.findall(source))
            wrong += [
                (entry.msgid, expected, text) for text in translations if sorted(pattern.findall(text)) != expected
            ]
    assert not wrong, "placeholders differ:\n" + "\n".join(f"  {m!r}: want {e}, got {t!r}" for m, e, t in wrong[:15])


def test_the_compiled_catalogue_is_the_translated_one():
    """The .mo Django loads is compiled from the current .po (nothing needs gettext at run time)."""
    shipped = _translations(polib.pofile(str(PO_PATH)))
    compiled = _translations(polib.mofile(str(MO_PATH)))

    differing = {key for key in shipped.keys() | compiled.keys() if shipped.get(key) != compiled.get(key)}
    assert not differing, (
        f"{MO_PATH.name} is out of date for {len(differing)} messages (run `manage.py compilemessages`):"
        f"{_listing(differing)}"
    )


def test_the_catalogue_has_exactly_the_strings_marked_in_the_code(tmp_path, settings, monkeypatch):
    """Extract the marked strings afresh, as makemessages does, and compare them with the catalogue."""
    missing_tools = [tool for tool in ("xgettext", "msguniq", "msgmerge") if shutil.which(tool) is None]
    if missing_tools:
        pytest.fail(
            f"GNU gettext is needed to extract the marked strings ({', '.join(missing_tools)} not found): "
            "install it with `apt-get install gettext`."
        )
    # A copy of the sources, so the extraction cannot touch the shipped catalogue.
    base = Path(settings.BASE_DIR)
    source = tmp_path / "src"
    source.mkdir()
    for item in base.iterdir():
        if item.name.startswith(".") or item.name in PROJECT_IGNORE or item.name == "static":
            continue
        if item.is_dir():
            shutil.copytree(item, source / item.name, ignore=_not_a_source)
        elif item.suffix in SOURCE_SUFFIXES:
            shutil.copy2(item, source / item.name)
    monkeypatch.chdir(source)
    settings.LOCALE_PATHS = [source / "locale"]

    call_command("makemessages", locale=[LOCALE], verbosity=0)

    extracted = {
        _key(entry) for entry in _active(polib.pofile(str(source / "locale" / LOCALE / "LC_MESSAGES" / "django.po")))
    }
    shipped = {_key(entry) for entry in _active(polib.pofile(str(PO_PATH)))}
    assert len(extracted) > 1000
    new = extracted - shipped
    stale = shipped - extracted
    assert not new, f"{len(new)} marked strings are not in the catalogue yet ({HOW_TO_UPDATE}):{_listing(new)}"
    assert not stale, f"{len(stale)} catalogue entries are no longer in the code ({HOW_TO_UPDATE}):{_listing(stale)}"


def _not_a_source(directory: str, names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if name == "__pycache__" or (Path(directory, name).is_file() and Path(name).suffix not in SOURCE_SUFFIXES)
    ]


# --- Pages in Chinese --------------------------------------------------------------------------


@pytest.fixture
def customer(rep):
    return CustomerFactory(owner=rep, name="Acme Industrie", annual_value=Decimal("1234567.00"))


@pytest.fixture
def todays_visit(customer):
    today = timezone.localdate()
    start = timezone.make_aware(datetime.combine(today, time(23, 0)))
    return VisitFactory(customer=customer, planned_start=start, goal="Demo")


@pytest.fixture
def chinese_client(client, manager):
    client.force_login(manager)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def test_django_loads_the_chinese_catalogue():
    with translation.override("zh-hans"):
        assert translation.gettext("Customers") == "客户"
        assert translation.ngettext("%(counter)s customer", "%(counter)s customers", 1) == "%(counter)s 个客户"
        assert translation.pgettext("date format", "l j F Y") == "Y年n月j日 l"
    with translation.override("en"):
        assert translation.gettext("Customers") == "Customers"


@pytest.mark.parametrize(
    ("page", "chinese"),
    [
        ("home", "欢迎，"),
        ("today", "工作时间"),
        ("customer_list", "上次拜访"),
        ("customer_detail", "拜访优先级"),
        ("dashboard", "关键指标"),
        ("board", "需求发现"),  # a default stage's name, translated though it is data
    ],
)
def test_pages_render_in_chinese_for_the_chosen_language(chinese_client, rep, customer, todays_visit, page, chinese):
    urls = {
        "home": reverse("home"),
        "today": reverse("visits:today") + f"?rep={rep.pk}",
        "customer_list": reverse("crm:customer_list"),
        "customer_detail": reverse("crm:customer_detail", args=[customer.pk]),
        "dashboard": reverse("analytics:dashboard"),
        "board": reverse("sales:board"),
    }

    response = chinese_client.get(urls[page])

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert chinese in html
    assert "退出登录" in html  # the navigation too
    assert "Log out" not in html


def test_dates_and_numbers_follow_the_language(client, manager, rep, customer, todays_visit):
    client.force_login(manager)
    today_url = reverse("visits:today") + f"?rep={rep.pk}"
    list_url = reverse("crm:customer_list")
    today = timezone.localdate()

    english_day = client.get(today_url).content.decode()
    english_list = client.get(list_url).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese_day = client.get(today_url).content.decode()
    chinese_list = client.get(list_url).content.decode()

    weekday_en = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][today.weekday()]
    weekday_zh = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"][today.weekday()]
    assert f"{weekday_en} {today.day} {today:%B} {today.year}" in english_day
    assert f"{today.year}年{today.month}月{today.day}日 {weekday_zh}" in chinese_day
    # Both group thousands with a comma, as CLDR's zh and en number formats do (Django's own zh_Hans
    # formats leave them ungrouped: config/formats/zh_Hans overrides that).
    assert "1,234,567" in english_list
    assert "1,234,567" in chinese_list
    assert "1234567" not in chinese_list


# --- The language switcher ---------------------------------------------------------------------


class _Forms(HTMLParser):
    """The page's forms: action, hidden fields and the values of their submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._button = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": attributes.get("action"), "hidden": {}, "buttons": {}, "pressed": {}, "labels": {}}
            )
        elif self.forms and tag == "input" and attributes.get("type") == "hidden":
            self.forms[-1]["hidden"][attributes["name"]] = attributes.get("value", "")
        elif self.forms and tag == "button" and attributes.get("name"):
            self.forms[-1]["buttons"][attributes["value"]] = attributes["name"]
            self.forms[-1]["pressed"][attributes["value"]] = attributes.get("aria-pressed")
            self._button = attributes["value"]

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None

    def handle_data(self, data):
        if self._button and data.strip():
            self.forms[-1]["labels"][self._button] = data.strip()


def _switcher(html: str) -> dict:
    parser = _Forms()
    parser.feed(html)
    [form] = [form for form in parser.forms if form["action"] == reverse("set_language")]
    return form


def test_the_switcher_on_the_login_page_turns_the_next_page_chinese(db):
    client = Client(enforce_csrf_checks=True)  # the form must carry its CSRF token
    page = client.get(reverse("login"))
    form = _switcher(page.content.decode())
    assert form["buttons"] == {"en": "language", "zh-hans": "language"}

    response = client.post(form["action"], {**form["hidden"], "language": "zh-hans"})

    assert response.status_code == 302
    assert response.url == reverse("login")  # back where the visitor was
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    chinese = client.get(response.url).content.decode()
    assert "登录 Fieldwise" in chinese
    assert '<html lang="zh-hans">' in chinese


def test_the_switcher_in_the_navigation_changes_the_language_and_returns_to_the_page(client, manager):
    client.force_login(manager)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    dashboard = reverse("analytics:dashboard") + "?period=quarter"
    form = _switcher(client.get(dashboard).content.decode())
    assert form["hidden"]["next"] == dashboard

    response = client.post(form["action"], {**form["hidden"], "language": "en"}, follow=True)

    assert response.redirect_chain == [(dashboard, 302)]
    html = response.content.decode()
    assert "Key figures" in html
    assert "Log out" in html
    assert "关键指标" not in html


def test_the_switcher_marks_the_current_language_and_names_each_in_its_own(client):
    # Before any choice the browser's language is honoured: zh-CN maps to Simplified Chinese.
    html = client.get(reverse("login"), headers={"accept-language": "zh-CN,zh;q=0.9"}).content.decode()

    assert '<html lang="zh-hans">' in html
    form = _switcher(html)
    assert form["pressed"] == {"en": "false", "zh-hans": "true"}
    assert form["labels"] == {"en": "English", "zh-hans": "简体中文"}


def test_an_unknown_language_is_ignored(client, manager):
    client.force_login(manager)

    response = client.post(reverse("set_language"), {"language": "xx", "next": reverse("home")}, follow=True)

    assert response.status_code == 200
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    assert "Log out" in response.content.decode()
