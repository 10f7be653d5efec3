"""``python -m authserver``: the same commands as the ``authserver`` console script."""

from authserver.cli import main

main()
