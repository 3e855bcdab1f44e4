"""Internal: cheap constructors for frozen slotted attrs classes on the hot paths.

A frozen attrs class forbids ``setattr`` by overriding ``__setattr__``, so its generated
``__init__`` (and any other way in) goes through one call per field. On the apply hot path,
where each apply builds an artifact and a handle envelope, those calls were a third of the
time. :func:`fast_ctor` builds instances without them when the class allows it:

- the instance is first made as a plain "builder" class with the very same slots (ordinary,
  fast attribute stores), then its ``__class__`` is set to the frozen class. CPython allows
  that assignment between two classes with the same base and the same slot layout; a
  ``__weakref__`` slot breaks the layout check, so the hot classes are declared with
  ``weakref_slot=False``.
- otherwise the slot descriptors' ``__set__`` are called directly (bound as locals).

Either way no validation runs, as with attrs' own ``__init__`` for these classes.
"""

from __future__ import annotations

import attrs


def fast_ctor(cls):
    """A positional constructor ``make(*fields)`` for the frozen slotted attrs class ``cls``,
    fields in declaration order. Internal."""
    names = [f.name for f in attrs.fields(cls)]
    args = ", ".join(f"a{i}" for i in range(len(names)))
    slots = tuple(cls.__dict__.get("__slots__", ()))
    if "__weakref__" not in slots and cls.__bases__ == (object,):
        builder = type(f"_{cls.__name__}Builder", (object,), {"__slots__": slots})
        ns = {"_new": object.__new__, "_builder": builder, "_cls": cls}
        body = "".join(f"    o.{n} = a{i}\n" for i, n in enumerate(names))
        src = f"def make({args}, *, _new=_new, _b=_builder, _c=_cls):\n    o = _new(_b)\n{body}    o.__class__ = _c\n    return o\n"
        exec(src, ns)  # noqa: S102 - generated from the class's own field names
        make = ns["make"]
        try:  # the layout check happens on the first swap: fall back when CPython refuses it
            make(*([None] * len(names)))
            return make
        except TypeError:
            pass
    ns = {"_new": object.__new__, "_cls": cls}
    defaults = ""
    for n in names:
        ns[f"_set_{n}"] = cls.__dict__[n].__set__
        defaults += f", _set_{n}=_set_{n}"
    body = "".join(f"    _set_{n}(o, a{i})\n" for i, n in enumerate(names))
    src = f"def make({args}, *, _new=_new, _cls=_cls{defaults}):\n    o = _new(_cls)\n{body}    return o\n"
    exec(src, ns)  # noqa: S102 - generated from the class's own field names
    return ns["make"]
