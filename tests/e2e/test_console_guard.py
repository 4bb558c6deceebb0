"""The browser tests' error guard itself: a console error or an uncaught exception fails the step."""

import pytest


def test_guard_catches_console_errors_and_exceptions(open_tab):
    tab = open_tab("desktop")
    tab.page.set_content("<p>x</p>")
    tab.page.evaluate("console.error('logged on purpose')")
    tab.page.evaluate("setTimeout(function () { throw new Error('thrown on purpose'); }, 0)")
    tab.page.wait_for_timeout(100)
    with pytest.raises(AssertionError, match="thrown on purpose"):
        tab.check("guard")
    assert len(tab.errors) == 2
    assert tab.errors[0].startswith("console: logged on purpose")
    assert tab.errors[1] == "pageerror: thrown on purpose"
