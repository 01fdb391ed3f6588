"""pysnow against the simulator's ServiceNow emulator, as an administrator's
script would use it. Prints what the client saw as one JSON object; the Rust
test (tests/python_clients.rs) checks it and the emulator's state.

    python3 pysnow_client.py HOST:PORT USER PASSWORD CORRELATION_ID
"""

import json
import sys

import pysnow
import requests

host, user, password, cid = sys.argv[1:5]
out = {}

client = pysnow.Client(host=host, user=user, password=password, use_ssl=False)
incident = client.resource(api_path="/table/incident")

created = incident.create(
    payload={
        "short_description": "pysnow: bne-mel-primary down",
        "correlation_id": cid,
        "impact": "2",
        "urgency": "2",
        "category": "network",
    }
).one()
out["created"] = {k: created[k] for k in ("number", "sys_id", "priority", "state")}

# The upsert lookup: by correlation_id, active only; every field comes back.
found = incident.get(query={"correlation_id": cid, "active": "true"}).one()
out["found"] = {"fields": len(found), "sys_id": found["sys_id"], "description": found["description"]}

shown = incident.get(query={"correlation_id": cid}, display_value=True).one()
out["display"] = {k: shown[k] for k in ("state", "urgency", "impact", "priority", "category")}

# update() reads the record with an empty sysparm_fields, then PUTs by sys_id.
incident.update(query={"correlation_id": cid}, payload={"work_notes": "pysnow: boost confirmed"}).one()
journal = client.resource(api_path="/table/sys_journal_field")
out["journal"] = [j["value"] for j in journal.get(query={"element_id": created["sys_id"]}).all()]

try:
    # pysnow reads (and raises) lazily: one() is where an error surfaces.
    incident.update(query={"correlation_id": cid}, payload={"state": "6"}).one()
    out["refused"] = None
except requests.HTTPError as e:
    out["refused"] = {"status": e.response.status_code, "error": e.response.json()["error"]}

resolved = incident.update(
    query={"correlation_id": cid},
    payload={"state": "6", "close_code": "Solution provided", "close_notes": "pysnow: restored to 10 Mbps"},
).one()
out["resolved"] = {k: resolved[k] for k in ("state", "active", "close_code", "close_notes")}
out["still_active"] = len(incident.get(query={"correlation_id": cid, "active": "true"}).all())

wrong = pysnow.Client(host=host, user=user, password="not-the-password", use_ssl=False)
try:
    wrong.resource(api_path="/table/incident").get(query={"correlation_id": cid}).all()
    out["wrong_password"] = None
except requests.HTTPError as e:
    out["wrong_password"] = e.response.status_code

print(json.dumps(out))
