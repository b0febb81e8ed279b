"""What the X channel records, on real SQLite and PostgreSQL: handled events, choices, reply parts."""

from __future__ import annotations

from bot.channels.x_store import XStore
from bot.customers import CustomerStore

OPTIONS = [{"title": "HL-104233", "payload": '/choose{"order": "HL-104233"}'}, {"title": "No thanks"}]


def test_an_event_is_seen_only_once_marked_and_marking_twice_is_harmless(store: CustomerStore) -> None:
    x = XStore(store)
    assert not x.seen("dm:1")
    x.mark_seen("dm:1")
    x.mark_seen("dm:1")  # another process handled a copy too
    assert x.seen("dm:1") and not x.seen("dm:2")


def test_a_reply_part_is_queued_once_however_often_a_retried_turn_sends_it(store: CustomerStore) -> None:
    x = XStore(store)
    assert x.send_dm("1400000000000000001", "first", "x-dm:dm:7:0")
    assert not x.send_dm("1400000000000000001", "first again", "x-dm:dm:7:0")
    assert x.send_dm("1400000000000000001", "second", "x-dm:dm:7:1")
    assert x.send_dm("1400000000000000001", "an agent's reply")  # no event: no key
    assert x.send_dm("1400000000000000001", "an agent's reply")


def test_a_choice_survives_until_the_turn_succeeded_and_new_options_are_kept(store: CustomerStore) -> None:
    x = XStore(store)
    x.remember_choices("c1", OPTIONS)
    assert x.resolve_choice("c1", "3") is None and x.resolve_choice("c1", "yes") is None
    chosen = x.resolve_choice("c1", " 1 ")
    assert chosen == ('/choose{"order": "HL-104233"}', OPTIONS)
    assert x.resolve_choice("c1", "2") == ("No thanks", OPTIONS)  # a retry picks the same again
    x.remember_choices("c1", [{"title": "Yes"}])  # the turn offered new options
    x.forget_choices("c1", OPTIONS)
    assert x.resolve_choice("c1", "1") == ("Yes", [{"title": "Yes"}])
    x.forget_choices("c1", [{"title": "Yes"}])
    assert x.resolve_choice("c1", "1") is None
