"""Project-written recordings for the fake OpenAI server: small artifacts, instructions, and
answers in the shapes real models produce (a JSON envelope with the usual slips, edit blocks,
a synthesized artifact). Used when ``../shared/gap-evals`` is absent and by the tests that need
a known artifact. Written for this project; no recorded third-party data here.
"""

from __future__ import annotations

from tests.fakes.fake_openai import Recording

DASHBOARD = """<!DOCTYPE html>
<html><head><title>Shop</title></head>
<body>
<gap:target id="stats">
<div class="card"><h3>Revenue</h3><span><gap:target id="revenue-value">$12,340</gap:target></span>
<small><gap:target id="revenue-trend">+4.1%</gap:target></small></div>
<div class="card"><h3>Users</h3><span><gap:target id="user-count">1,205</gap:target></span></div>
</gap:target>
<gap:target id="orders">
<table><tbody><gap:target id="orders-rows">
<tr><td>#1001</td><td>Ada</td><td>$40.00</td></tr>
</gap:target></tbody></table>
</gap:target>
</body></html>
"""

PY_MODULE = '''"""Users API."""
<gap:target id="imports">import os
</gap:target>

<gap:target id="settings">PAGE_SIZE = 20
TIMEOUT = 30
</gap:target>

<gap:target id="handler">def list_users(db):
    return db.all()[:PAGE_SIZE]
</gap:target>
'''

UNMARKED = """<!DOCTYPE html>
<html><body>
<h1>Status</h1>
<p>All systems normal.</p>
</body></html>
"""

REVENUE_INSTRUCTION = "Set the revenue to $15,720 and the trend to +6.0%"
REVENUE_JSON = """Sure! Here is the envelope:

```json
{
  "protocol": "gap",
  "id": "dashboard",
  "version": 1,
  "name": "edit",
  "meta": {},
  "content": [
    {"op": "replace", "target": {"type": "id", "value": "revenue-value"}, "content": "$15,720"},
    {"op": "replace", "target": {"type": "id", "value": "revenue-trend"}, "content": "+6.0%"},
  ]
}
```
"""

ORDERS_INSTRUCTION = "Add an order #1002 from Grace for $12.50"
ORDERS_BLOCKS = """<<< insert_after orders-rows
<tr><td>#1002</td><td>Grace</td><td>$12.50</td></tr>
>>>
"""

PY_INSTRUCTION = "Raise the page size to 50 and quote the handler's docstring"
PY_BLOCKS = '''<<< replace settings
PAGE_SIZE = 50
TIMEOUT = 30

>>>
<<< replace handler
def list_users(db):
    """Return the first page of users (\\"PAGE_SIZE\\" of them)."""
    return db.all()[:PAGE_SIZE]

>>>
'''

SYNTH_INSTRUCTION = "Create a tiny status page with a title and a status line"
SYNTH_HTML = """<!DOCTYPE html>
<html><body>
<gap:target id="title"><h1><gap:target id="title-text">Status</gap:target></h1></gap:target>
<gap:target id="status"><p><gap:target id="status-text">All systems normal.</gap:target></p></gap:target>
</body></html>
"""

ADD_TARGETS_INSTRUCTION = "Add GAP target markers"
MARKED = """<!DOCTYPE html>
<html><body>
<gap:target id="title"><h1><gap:target id="title-text">Status</gap:target></h1></gap:target>
<gap:target id="status"><p><gap:target id="status-text">All systems normal.</gap:target></p></gap:target>
</body></html>
"""

RECORDINGS = [
    Recording(REVENUE_INSTRUCTION, REVENUE_JSON, DASHBOARD, "edit", "project/revenue-json", "text/html"),
    Recording(ORDERS_INSTRUCTION, ORDERS_BLOCKS, DASHBOARD, "edit", "project/orders-blocks", "text/html"),
    Recording(PY_INSTRUCTION, PY_BLOCKS, PY_MODULE, "edit", "project/py-blocks", "text/x-python"),
    Recording(SYNTH_INSTRUCTION, SYNTH_HTML, None, "synthesize", "project/synth-html", "text/html"),
]
