"""gap_engine._fast.fast_ctor: instances equal to the class's own constructor's, both ways."""

from __future__ import annotations

import copy
import pickle

import attrs
import pytest

from gap_engine._fast import fast_ctor
from gap_engine.model import Artifact, Envelope, HandleContent, _new_artifact, _new_envelope, _new_handle_content


@attrs.frozen(slots=True)  # keeps its __weakref__ slot: the builder swap is refused, setters are used
class WithWeakref:
    a: int
    b: str = "x"


@attrs.frozen(slots=True, weakref_slot=False)
class NoWeakref:
    a: int
    b: str = "x"


@pytest.mark.parametrize("cls", [WithWeakref, NoWeakref])
def test_fast_ctor_matches_the_attrs_constructor(cls):
    make = fast_ctor(cls)
    o = make(1, "y")
    assert type(o) is cls and o == cls(1, "y") and hash(o) == hash(cls(1, "y")) and repr(o) == repr(cls(1, "y"))
    assert pickle.loads(pickle.dumps(o)) == o and copy.copy(o) == o and attrs.evolve(o, a=2) == cls(2, "y")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        o.a = 3  # still frozen


def test_builder_swap_is_used_for_the_hot_classes():
    # no __weakref__ slot: made as a plain builder instance, then re-classed
    for make in (_new_artifact, _new_envelope, _new_handle_content):
        assert "_b" in make.__code__.co_varnames
    assert "_b" not in fast_ctor(WithWeakref).__code__.co_varnames
    art = _new_artifact("a", 2, "text/html", "<p/>", None, None)
    assert art == Artifact("a", 2, "text/html", "<p/>") and art.index().ids() == []
    env = _new_envelope("gap/0.1", "a", 2, "handle", {"format": "text/html"}, (_new_handle_content("a", 2, 1, None, None, ()),))
    assert env == Envelope("gap/0.1", "a", 2, "handle", {"format": "text/html"}, (HandleContent("a", 2, 1, None, None, ()),))
    assert env.to_dict()["content"][0]["id"] == "a"
