"""The seed blog's Python pattern, as the baseline for bench/client_seq.sh.

get_megaport_product_detail() from the blog: requests.get + .json(), a new
connection per call. `--session` uses one requests.Session() (keep-alive).
Prints calls per second.
"""
import sys
import time

import requests


def main():
    api, token_url, uid, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    session_mode = "--session" in sys.argv
    r = requests.post(token_url, auth=("megaflex-sim-key", "megaflex-sim-secret"),
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      data="grant_type=client_credentials")
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = f"{api}/v2/product/{uid}"
    getter = requests.Session().get if session_mode else requests.get
    start = time.perf_counter()
    for _ in range(calls):
        response = getter(url, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"status {response.status_code}")
        response.json()["data"]
    print(f"{calls / (time.perf_counter() - start):.0f}")


if __name__ == "__main__":
    main()
