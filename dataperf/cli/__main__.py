"""``python -m dataperf.cli`` runs the ``dataperf`` command (as ``python -m dataperf`` does)."""

import os
import sys

# Before anything can import albumentations, which checks for updates over the network.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from dataperf.cli import main  # noqa: E402

sys.exit(main())
