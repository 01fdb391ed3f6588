"""Runs the seed blog's functions (seed_blog_code.py, verbatim) against the
simulator, with only the two host names replaced, and does what the blog's
IPython session does with them. Prints what it saw as one JSON object on the
last line (the functions' own prints come before it).

    MP_STAGE_API_KEY=... MP_STAGE_API_KEY_SECRET=... python3 seed_blog.py BASE_URL VXC_UID
"""

import contextlib
import io
import json
import os
import sys

base, vxc_uid = sys.argv[1:3]
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seed_blog_code.py")
with open(path, encoding="utf-8") as f:
    code = f.read()
for host in ("https://auth-m2m.megaport.com", "https://api.megaport.com"):
    assert host in code, host
    code = code.replace(host, base)
blog = {}
# Compiled under the file's own name: load_dotenv() looks for .env from there.
exec(compile(code, path, "exec"), blog)

out = {}
access_token = blog["get_megaport_token"]()
out["token"] = bool(access_token)
active_megaport_product_list = blog["get_active_megaport_product_list"](access_token)
out["active"] = sorted(active_megaport_product_list)
# The blog picks its circuit by index; ours is found by UID.
detail = blog["get_megaport_product_detail"](access_token, vxc_uid)
out["detail"] = {k: detail[k] for k in ("productName", "productId", "rateLimit", "provisioningStatus")}
out["detail"]["aEnd"] = detail["aEnd"]["location"]
out["detail"]["bEnd"] = detail["bEnd"]["location"]
out["bandwidth_before"] = blog["get_megaport_product_bandwidth"](access_token, vxc_uid)
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    blog["upgrade_megaport_product_bandwidth"](access_token, vxc_uid, 500)
out["upgrade_printed"] = printed.getvalue().strip()
out["bandwidth_after"] = blog["get_megaport_product_bandwidth"](access_token, vxc_uid)
print(json.dumps(out))
