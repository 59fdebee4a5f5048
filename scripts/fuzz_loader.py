"""A longer fuzz run of the image loader than CI's (hypothesis; only InputError may escape).

    python scripts/fuzz_loader.py [EXAMPLES]     # default 20000
"""

import os
import subprocess
import sys

examples = sys.argv[1] if len(sys.argv) > 1 else "20000"
env = {**os.environ, "BRUSHWORK_FUZZ_EXAMPLES": examples}
sys.exit(subprocess.call([sys.executable, "-m", "pytest", "tests/test_reliability.py", "-k", "fuzz",
                          "-p", "no:warnings"], env=env))
