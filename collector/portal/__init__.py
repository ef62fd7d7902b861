"""The auditor portal (`evidence-agent serve`): a read-only web app over the store (docs/portal.md).

Pages are rendered on the server with no script and no external asset; `/api/` mirrors them as JSON.
Every request but `/healthz`, `/login` and the stylesheet needs a token; every view and download is
written to the store's access log.
"""
