"""``python -m nfldeploy``."""

from nfldeploy.cli.app import main

main()
