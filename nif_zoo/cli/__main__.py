import sys

from nif_zoo.cli import main

sys.exit(main())
