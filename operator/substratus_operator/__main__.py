"""`python -m substratus_operator`: run the operator in every namespace, with kopf's liveness endpoint."""

import sys

from kopf.cli import main as kopf_main


def main() -> int:
    return kopf_main(
        [
            "run",
            "--all-namespaces",
            "--standalone",
            "--liveness=http://0.0.0.0:8080/healthz",
            "-m",
            "substratus_operator.handlers",
            *sys.argv[1:],
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
