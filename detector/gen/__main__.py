"""``python -m detector.gen``: same as ``gen_trail``."""

from __future__ import annotations

import sys

from detector.gen.cli import main

sys.exit(main())
