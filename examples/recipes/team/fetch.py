#!/usr/bin/env python3
"""The agent's side: POST to each URL through the proxy reins gives it
(HTTP_PROXY) and print ALLOWED or BLOCKED for each."""
import sys
import urllib.error
import urllib.request

for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"),
                                    timeout=60) as r:
            print(f"fetch {url}: ALLOWED ({r.status})")
    except urllib.error.HTTPError as e:
        print(f"fetch {url}: BLOCKED ({e.code})")
    except OSError as e:
        print(f"fetch {url}: BLOCKED ({e})")
