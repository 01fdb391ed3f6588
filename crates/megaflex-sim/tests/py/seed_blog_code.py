# The seed blog's Python code (shared/seeds/megaport-api-blog.md), every
# block that defines a function, verbatim and in order: tests/seed_blog.rs
# checks it against the blog when the seeds are beside the checkout, and
# seed_blog.py runs it against the simulator with only the two host names
# replaced. Do not edit: fix the simulator instead.

import requests
import base64
import os
import json
from dotenv import load_dotenv

# Load environment variables from the .env file
load_dotenv()

def get_megaport_token():
    API_KEY = os.getenv('MP_STAGE_API_KEY')
    API_KEY_SECRET = os.getenv('MP_STAGE_API_KEY_SECRET')
    credentials = f"{API_KEY}:{API_KEY_SECRET}"
    credentials_b64 = base64.b64encode(credentials.encode("utf-8")).decode("utf-8")
    url = "https://auth-m2m.megaport.com/oauth2/token"
    headers = {
        "Authorization": f"Basic {credentials_b64}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    payload = 'grant_type=client_credentials'
    response = requests.post(url, headers=headers, data=payload)
    
    if response.status_code == 200:
        return response.json()['access_token']
    else:
        print(f"Could not get access token. API request failed with status code {response.status_code}")
        return None

def get_active_megaport_product_list(access_token):
    url = "https://api.megaport.com/v2/products"
    payload = {}
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Content-Type": "application/json",
    }
    response = requests.get(url, headers=headers, data=payload)
    
    product_uids = []
    if response.status_code == 200:
        products = response.json()['data']
        for product in products:
            if product["provisioningStatus"] in ["LIVE", "CONFIGURED"]:
                for vxc in product["associatedVxcs"]:
                    product_uids.append(vxc["productUid"])
        return list(set(product_uids))
    else:
        print(f"Could not get active products. API request failed with status code {response.status_code}")
        return None

def get_megaport_product_detail(access_token, productUid):
    url = f"https://api.megaport.com/v2/product/{productUid}"
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Content-Type": "application/json",
    }
    response = requests.get(url, headers=headers)
    
    if response.status_code == 200:
        product_details = response.json()['data']
        return product_details
    else:
        print(f"Could not get product details. API request failed with status code {response.status_code}")
        return None

def get_megaport_product_bandwidth(access_token, productUid):
    url = f"https://api.megaport.com/v2/product/{productUid}"
    payload = {}
    headers = {
    "Authorization": f"Bearer {access_token}",
    "Content-Type": "application/json",
    }
    response = requests.request("GET", url, headers=headers, data=payload)
    if response.status_code == 200:
        rate_limit_mbps = response.json()['data']['resources']['vll']['rate_limit_mbps']
        return rate_limit_mbps
    else:
        return(print(f"Could not get Vxc product details. API request has failed with status code {response.status_code}")) 

def upgrade_megaport_product_bandwidth(access_token, productUid, new_bandwidth):
    url = f"https://api.megaport.com/v2/product/{productUid}"
    payload = {
        "rateLimit": new_bandwidth
    }
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Content-Type": "application/json",
    }
    response = requests.put(url, headers=headers, json=payload)
    
    if response.status_code == 200:
        print(f"Successfully upgraded the circuit to {new_bandwidth} Mbps.")
    else:
        print(f"Failed to upgrade the circuit. Status code: {response.status_code}")
