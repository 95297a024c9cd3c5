"""Command line: ``python -m pipelines sample|refresh|rebuild|audit|verifier|postgres|proxy|portail`` (see README)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _month(value: str) -> str:
    from pipelines.months import parse_month

    if parse_month(value) is None:
        raise argparse.ArgumentTypeError(f"mois attendu au format AAAA-MM : {value!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="générer les livraisons d'exemple (déterministes)")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--scale", type=float, default=1.0)
    sample.add_argument("--from", dest="start", type=_month, default="2023-02")
    sample.add_argument("--to", dest="end", type=_month, default="2026-10")
    refresh = commands.add_parser("refresh", help="ingérer la boîte de dépôt (tous les mois, ou --period)")
    refresh.add_argument("--period", type=_month)
    commands.add_parser(
        "rebuild", help="reconstruire l'entrepôt depuis l'archive et son journal (jamais par-dessus un entrepôt)",
        description="ALI_WAREHOUSE doit nommer un fichier inexistant ; rejoue chaque livraison de ALI_ARCHIVE_DIR "
                    "dans l'ordre de réception, puis construit les marts. Sous une nouvelle "
                    "ALI_PSEUDONYMISATION_KEY : la rotation de la clé (docs/operations.md).")
    audit = commands.add_parser("audit", help="d'où viennent les chiffres d'une ALI pour un mois (fichiers, versions)")
    audit.add_argument("--periode", "--period", dest="periode", type=_month, required=True)
    audit.add_argument("--ali", required=True, help="code de l'ALI, ex. ALI04")
    verifier = commands.add_parser(
        "verifier", help="vérifier un fichier avant de l'envoyer : le verdict que donnerait l'ingestion",
        description="Lit et valide le fichier avec le code et les règles de l'ingestion, sans clé ni entrepôt, "
                    "sans rien écrire. Sortie : 0 rien ne serait rejeté ni mis en quarantaine, 1 sinon, "
                    "2 erreur d'utilisation.")
    verifier.add_argument("fichier", type=Path, help="fichier .csv ou .xlsx, nommé comme dans la boîte de dépôt")
    verifier.add_argument("--source", required=True, help="code de la structure (ALI ou partenaire), ex. ALI07")
    verifier.add_argument("--periode", "--period", dest="periode", type=_month, required=True,
                          help="mois livré, AAAA-MM")
    verifier.add_argument("--json", action="store_true", help="le verdict en un document JSON")
    postgres = commands.add_parser(
        "postgres", help="serveur PostgreSQL local (data/postgres) : démarrer, arrêter, état",
        description="start : crée le cluster au besoin (propriétaire non privilégié), le démarre sur 127.0.0.1 "
                    "(ALI_PG_PORT, 5433) et crée bases et rôles ; les accès sont dans <dossier>/acces.env.")
    postgres.add_argument("action", choices=["start", "stop", "status"])
    proxy = commands.add_parser(
        "proxy", help="proxy nginx (TLS, mots de passe) devant l'interface Dagster : démarrer, arrêter, comptes",
        description="start : écrit la configuration dans ALI_PROXY_DIR (data/proxy) et démarre nginx sur "
                    "ALI_PROXY_LISTEN (0.0.0.0:8443) vers ALI_DAGSTER_UI_URL ; utilisateur NOM : ajoute ou remplace "
                    "NOM, mot de passe lu sur l'entrée standard ou dans ALI_PROXY_PASSWORD, jamais en argument.")
    proxy.add_argument("action", choices=["start", "stop", "status", "utilisateur"])
    proxy.add_argument("nom", nargs="?", help="pour utilisateur : le nom de connexion")
    portail = commands.add_parser(
        "portail", help="portail de dépôt des structures (pages et API) ; jeton SOURCE : créer ou remplacer un jeton",
        description="Sans action : sert le portail sur 127.0.0.1:--port (derrière le proxy inverse pour TLS). "
                    "jeton SOURCE : crée ou remplace le jeton de la source, affiché une fois sur la dernière ligne.")
    portail.add_argument("action", nargs="?", choices=["jeton"])
    portail.add_argument("source", nargs="?", help="pour jeton : le code de la structure, ex. ALI07")
    portail.add_argument("--port", type=int, default=8090)
    portail.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    if args.command == "sample":
        from pipelines.resources import env_path
        from pipelines.sample import generate

        reference = Path(env_path("ALI_REFERENCE_DIR"))
        summary = generate(args.out, scale=args.scale, start=args.start, end=args.end, reference_dir=reference)
        print("\n".join(summary.lines()))
        return 0
    if args.command == "verifier":
        from pipelines.senders.verify import main as verify_main

        return verify_main(args.fichier, args.source, args.periode, args.json)
    if args.command == "audit":
        from pipelines.audit import main as audit_main

        return audit_main(args.periode, args.ali)
    if args.command == "postgres":
        from pipelines.postgres.cli import main as postgres_main

        return postgres_main(args.action)
    if args.command == "proxy":
        from pipelines.proxy import main as proxy_main

        return proxy_main(args.action, args.nom)
    if args.command == "portail":
        from pipelines.portal.cli import main as portal_main

        return portal_main(args.action, args.source, args.host, args.port)
    if args.command == "rebuild":
        from pipelines.rebuild import main as rebuild_main

        return rebuild_main()
    from pipelines.refresh import main as refresh_main

    return refresh_main(args.period)


if __name__ == "__main__":
    sys.exit(main())
