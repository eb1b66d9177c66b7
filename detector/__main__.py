"""``python -m detector`` is the ``s3ad`` command."""

from detector.cli import main

raise SystemExit(main())
