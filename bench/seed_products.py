"""The seed blog's steps 1 and 2 as one script: get a token, list the active
circuits (get_megaport_token + get_active_megaport_product_list). Baseline
for bench/cli_hyperfine.sh. Prints the number of active circuits.
"""
import base64
import json
import os

import requests


def main():
    api = os.environ["MEGAPORT_API_URL"]
    token_url = os.environ["MEGAPORT_TOKEN_URL"]
    creds = f"{os.environ['MEGAPORT_ACCESS_KEY']}:{os.environ['MEGAPORT_SECRET_KEY']}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(creds.encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    token = requests.post(token_url, headers=headers, data="grant_type=client_credentials").json()["access_token"]
    response = requests.get(f"{api}/v2/products", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    uids = set()
    for product in response.json()["data"]:
        if product["provisioningStatus"] in ["LIVE", "CONFIGURED"]:
            for vxc in product["associatedVxcs"]:
                uids.add(vxc["productUid"])
    print(json.dumps(sorted(uids)))


if __name__ == "__main__":
    main()
