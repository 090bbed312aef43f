"""``idp-console init [DIR]`` — start a workspace: a commented ``idp-console.yaml`` to edit.

The file is the README's example. What needs real infrastructure (a git server, kube contexts,
Prometheus) is commented out, so ``idp-console --workspace DIR`` opens at once and each part can be
switched on when it exists. An existing file is never overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from console.commands import CommandError

EXIT_OK, EXIT_USAGE = 0, 2
CONFIG_FILE = "idp-console.yaml"

# The README's analysis query, too long for one source line.
QUERY = (
    'sum(rate(http_requests_total{service="{{service}}",track="canary",code=~"5.."}[1m])) / '
    'sum(rate(http_requests_total{service="{{service}}",track="canary"}[1m]))'
)
# @ROOT@, @NAME@, @USER@ and @QUERY@ are filled in (no str.format: the YAML has braces of its own).
TEMPLATE = """\
# idp-console workspace — written by `idp-console init`; every key is explained in the README.
# Open it with: idp-console --workspace @ROOT@
name: @NAME@
identity:
  user: @USER@          # a catalog User; default: $USER (the SSH login)
theme: textual-dark       # any Textual theme; switch live with :theme NAME
keymap:                   # remap any binding by its id (see ? for the keys)
  catalog.filter: slash
  # app.command_line: ctrl+k
catalog:
  sources:
    - type: dir           # a file, a folder (its *.yaml/*.yml) or a glob: services/**/catalog-info.yaml
      path: ./catalog
    # - type: git         # https, ssh, file:// or a local path; mirrored in the cache dir
    #   url: https://git.example.com/platform/catalog.git
    #   ref: main         # branch, tag or commit (default HEAD)
    #   paths: ["catalog/**/*.yaml"]   # globs inside the repository (default **/*.yaml)
# templates:
#   sources:              # in addition to the golden paths and catalog Templates
#     - type: dir
#       path: templates
# git:                    # where publish:git / publish:github / publish:gitlab push new repositories
#   remoteBase: ssh://git@git.example.com      # or a directory, file:// or https://
#   hosts:                                     # publish:github repoUrl host → base
#     github.com: ssh://git@git.example.com
#   tokenSecret: GIT_TOKEN                     # https token: keyring or IDP_CONSOLE_SECRET_GIT_TOKEN
# environments:
#   production:
#     context: prod-eu    # kube context; default: current-context of $KUBECONFIG / ~/.kube/config
#     namespace: payments # default: backstage.io/kubernetes-namespace, else "default"
#     lifecycles: [production]   # catalog lifecycles allowed here (default: any)
#     production: true    # typed confirmation; only the owning group's members may deploy
#   staging:
#     context: staging
#     namespace: staging
# deploy:
#   bake: 2m              # default bake per step
#   progress_deadline: 10m
#   steps: [{weight: 5, bake: 2m}, 25, 50, 100]
#   analysis:
#     prometheus: http://prometheus:9090
#     query: '@QUERY@'
#     threshold: 0.01     # highest acceptable error rate (a fraction)
#   services:             # per-service overrides of any key above
#     payment-service: {analysis: {threshold: 0.005}}
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser(
        "init",
        help="write a commented idp-console.yaml to start a workspace",
        description="Write DIR/idp-console.yaml (the README's example, with the parts that need a "
        "git server, a cluster or Prometheus commented out) and an empty DIR/catalog folder. "
        "An existing idp-console.yaml is never overwritten.",
    )
    init.add_argument("dir", nargs="?", default=".", metavar="DIR", help="workspace directory (default: .)")
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    import getpass

    root = Path(args.dir).expanduser()
    config = root / CONFIG_FILE
    if config.exists():
        raise CommandError(f"{config}: already exists — edit it, or init another directory", EXIT_USAGE)
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "catalog").mkdir(exist_ok=True)
        name = root.resolve().name or "workspace"
        text = _fill(TEMPLATE, ROOT=str(root), NAME=name, USER=getpass.getuser() or "jane.doe", QUERY=QUERY)
        with config.open("x", encoding="utf-8") as out:  # "x": never overwrite, even in a race
            out.write(text)
    except OSError as error:
        raise CommandError(f"{config}: cannot write: {error.strerror or error}", EXIT_USAGE) from error
    print(f"Wrote {config}")
    print(f"Put catalog-info.yaml files in {root / 'catalog'}, then run: idp-console --workspace {root}")
    return EXIT_OK


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template
