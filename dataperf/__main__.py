"""``python -m dataperf`` runs the ``dataperf`` command."""

import sys

from dataperf.cli import main

sys.exit(main())
