"""ServiceNow's own pysnc against the simulator's ServiceNow emulator, over
HTTPS (pysnc refuses http://), served by the simulator itself (`megaflex sim
--tls`). The CA certificate comes from REQUESTS_CA_BUNDLE, as a user behind a
private CA would set it. Prints what the client saw as one JSON object; the
Rust test (tests/python_clients.rs) checks it and the emulator's state.

    python3 pysnc_client.py https://HOST:PORT USER PASSWORD CORRELATION_ID CLIENT_ID CLIENT_SECRET
"""

import json
import sys

from pysnc import ServiceNowClient
from pysnc.auth import ServiceNowPasswordGrantFlow
from pysnc.exceptions import AuthenticationException, RoleException, UpdateException

instance, user, password, cid, client_id, client_secret = sys.argv[1:7]
out = {"instance": instance}

client = ServiceNowClient(instance, (user, password))
gr = client.GlideRecord("incident")
gr.initialize()
gr.short_description = "pysnc: bne-mel-primary down"
gr.correlation_id = cid
gr.impact = "2"
gr.urgency = "2"
sys_id = gr.insert()
out["sys_id"] = str(sys_id)

gr = client.GlideRecord("incident")
gr.add_query("correlation_id", cid)
gr.add_active_query()
gr.query()
out["found"] = gr.get_row_count()
gr.next()
out["display"] = {f: gr.get_display_value(f) for f in ("state", "urgency", "impact", "priority")}
out["value"] = {f: gr.get_value(f) for f in ("state", "urgency", "priority", "number")}

gr.work_notes = "pysnc: boost confirmed"
gr.update()
notes = client.GlideRecord("sys_journal_field")
notes.add_query("element_id", str(sys_id))
notes.add_query("element", "work_notes")
notes.query()
out["journal"] = [n.get_value("value") for n in notes]

# Resolving with the state alone is refused by the data policy.
gr.state = "6"
try:
    gr.update()
    out["refused"] = None
except (RoleException, UpdateException) as e:
    out["refused"] = type(e).__name__ + ": " + str(e)
gr.close_code = "Solution provided"
gr.close_notes = "pysnc: restored to 10 Mbps"
gr.update()

again = client.GlideRecord("incident")
again.get(str(sys_id))
out["resolved"] = {f: again.get_display_value(f) for f in ("state", "active", "close_code", "close_notes")}

wrong = ServiceNowClient(instance, (user, "not-the-password"))
try:
    g = wrong.GlideRecord("incident")
    g.query()
    out["wrong_password"] = None
except AuthenticationException as e:
    out["wrong_password"] = "AuthenticationException: " + str(e)

# OAuth: pysnc's password grant against /oauth_token.do, then the Table API
# with the bearer token (requests-oauthlib comes with pysnow).
flow = ServiceNowPasswordGrantFlow(user, password, client_id, client_secret)
oauth = ServiceNowClient(instance, flow).GlideRecord("incident")
oauth.add_query("correlation_id", cid)
oauth.query()
out["oauth_found"] = [o.get_value("number") for o in oauth]

print(json.dumps(out))
