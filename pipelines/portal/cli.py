"""``python -m pipelines portail [--port N]`` serves the portal; ``portail jeton SOURCE`` issues a source's token.

The server listens on the loopback only (``--host`` to change it knowingly): TLS and the public
address are the reverse proxy's (docs/operations.md). The token is printed once, alone on the last
line, and stored only as its hash: a lost token is replaced, never recovered.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.resources import env_path


def folders() -> dict[str, Path]:
    names = ("ALI_INBOX_DIR", "ALI_REFERENCE_DIR", "ALI_PUBLISH_DIR", "ALI_PORTAIL_DIR")
    return {name: Path(env_path(name)) for name in names}


def issue(source: str) -> int:
    from pipelines.portal.deposit import Depository
    from pipelines.portal.tokens import TokenStore

    paths = folders()
    source = source.strip().upper()
    known = Depository(paths["ALI_INBOX_DIR"], paths["ALI_REFERENCE_DIR"], paths["ALI_PORTAIL_DIR"]).sources()
    if source not in known:
        print(f"source inconnue : {source} (codes de ali.csv et partenaires.csv de ALI_REFERENCE_DIR)", file=sys.stderr)
        return 2
    store = TokenStore(paths["ALI_PORTAIL_DIR"])
    replaced = source in store.entries()
    token = store.issue(source)
    print(f"Jeton {'remplacé' if replaced else 'créé'} pour {source} ({known[source]})"
          f"{' : l’ancien ne fonctionne plus' if replaced else ''}.")
    print("Il n'est affiché qu'une fois : le transmettre à la structure par un canal sûr.")
    print(token)
    return 0


def serve(host: str, port: int) -> int:
    import uvicorn

    from pipelines.portal.app import create_app

    paths = folders()
    app = create_app(paths["ALI_INBOX_DIR"], paths["ALI_REFERENCE_DIR"], paths["ALI_PUBLISH_DIR"],
                     paths["ALI_PORTAIL_DIR"])
    print(f"portail de dépôt : http://{host}:{port}/ (boîte de dépôt {paths['ALI_INBOX_DIR']})", flush=True)
    uvicorn.run(app, host=host, port=port, proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                server_header=False, log_level="warning")
    return 0


def main(action: str | None, source: str | None, host: str, port: int) -> int:
    if action == "jeton":
        if not source:
            print("usage : python -m pipelines portail jeton SOURCE", file=sys.stderr)
            return 2
        return issue(source)
    return serve(host, port)
