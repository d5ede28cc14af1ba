"""Go's parse-time limits that RE2 C++ lacks: nesting depth and program size.

Go refuses a regexp more than 1000 levels deep ("expression nests too deeply") or whose program
would exceed 128 MiB ("expression too large"). RE2 has neither limit in that form, so the scanner
(goregexp.py) reports every token to `DepthTracker`, which follows how Go builds its parse tree
closely enough to estimate both, erring low: it may miss a pattern right at Go's limits, but
never refuses one Go accepts.
"""

from __future__ import annotations

from app.kargo.patterns.syntax_errors import GoRegexpErrorCode as Code
from app.kargo.patterns.syntax_errors import GoSyntaxError

_LITERAL, _CLASS, _EMPTY_WIDTH, _EMPTY, _CAPTURE, _REPEAT, _CONCAT, _ALTERNATE = range(8)
_WILDCARD = ("any",)
_MAX_HEIGHT = 1000  # regexp/syntax maxHeight
_MAX_SIZE = (128 << 20) // 40  # regexp/syntax maxSize: 128 MiB of 40-byte instructions


class _Node:
    """A node of an approximation of Go's parse tree, kept for its height and size.

    Concatenations and alternations keep a summary of their children instead of the children,
    which is all that flattening them into a parent needs; copying child lists would make deep
    chains of non-capturing groups (which Go flattens, so they are legal) quadratic.
    """

    __slots__ = (
        "count",
        "factorable",
        "first",
        "fold",
        "height",
        "kind",
        "largest",
        "last",
        "lead",
        "runes",
        "size",
        "tallest",
        "total",
    )

    def __init__(
        self,
        kind: int,
        height: int = 1,
        size: int = 1,
        *,
        runes: int = 0,
        fold: bool | None = False,
        lead: tuple[object, ...] | None = None,
    ) -> None:
        self.kind = kind
        self.height = height
        # Go's calcSize estimate of the compiled program.
        self.size = size
        self.runes = runes
        # Case folding of a literal; None for one that came from a class, which may merge with
        # any literal (Go makes some classes literals with or without folding).
        self.fold = fold
        # What the node starts with, for guessing whether Go's factoring of alternations
        # could apply; _WILDCARD matches any other literal-like start.
        self.lead = lead
        # Alternations only: first and last alternative, how many, the tallest and largest,
        # their total size, and whether any two neighbours might be factored.
        self.first: _Node | None = None
        self.last: _Node | None = None
        self.count = 0
        self.tallest = 0
        self.largest = 0
        self.total = 0
        self.factorable = False


def _is_class_like(node: _Node) -> bool:
    """Go's isCharClass: alternatives like these merge into one class node."""
    return node.kind == _CLASS or (node.kind == _LITERAL and node.runes == 1)


def _may_factor(a: _Node, b: _Node) -> bool:
    if a.lead is None or b.lead is None:
        return False
    return a.lead is _WILDCARD or b.lead is _WILDCARD or a.lead == b.lead


class _Frame:
    __slots__ = ("branches", "capture", "items", "saved_fold")

    def __init__(self, capture: bool, saved_fold: bool) -> None:
        self.capture = capture
        self.saved_fold = saved_fold
        self.items: list[_Node] = []
        self.branches: list[_Node] = []


class _Alternatives:
    """Go's alternate() and factor() rounds 3 and 4, on a stream of alternatives."""

    def __init__(self) -> None:
        self.first: _Node | None = None
        self.last: _Node | None = None
        self.count = 0
        self.tallest = 0
        self.largest = 0
        self.total = 0
        self.factorable = False

    def add(self, node: _Node) -> None:
        last = self.last
        if last is not None:
            if _is_class_like(last) and _is_class_like(node):
                # Neighbouring single characters and classes merge into one class.
                merged = _Node(_CLASS, lead=_WILDCARD)
                if self.first is last:
                    self.first = merged
                self.last = merged
                self.total -= last.size - 1
                return
            if last.kind == node.kind == _EMPTY:
                return  # runs of empty alternatives collapse
            if _may_factor(last, node):
                self.factorable = True
        if self.first is None:
            self.first = node
        self.last = node
        self.count += 1
        self.tallest = max(self.tallest, node.height)
        self.largest = max(self.largest, node.size)
        self.total += node.size

    def splice(self, alternation: _Node) -> None:
        """Add the alternatives of a nested alternation, which Go flattens into this one."""
        assert alternation.first is not None
        assert alternation.last is not None
        self.add(alternation.first)
        self.count += alternation.count - 1
        self.tallest = max(self.tallest, alternation.tallest)
        self.largest = max(self.largest, alternation.largest)
        self.total += alternation.total - alternation.first.size
        self.factorable = self.factorable or alternation.factorable
        self.last = alternation.last

    def node(self) -> _Node:
        assert self.last is not None
        if self.count == 1:
            return self.last
        if self.factorable:
            # Factoring shares prefixes, so Go's node is lower and smaller; count neither the
            # level nor the separate copies.
            height, size = self.tallest, self.largest
        else:
            height, size = self.tallest + 1, self.total + self.count - 1
        node = _Node(_ALTERNATE, height, size)
        node.first, node.last, node.count = self.first, self.last, self.count
        node.tallest, node.largest, node.total = self.tallest, self.largest, self.total
        node.factorable = self.factorable
        return node


def _repeat_size(lo: int, hi: int, sub: int) -> int:
    """Go's calcSize for x*, x+, x? and x{lo,hi} (hi -1 for no maximum)."""
    if hi != -1:
        return max(1, hi * sub + (hi - lo))  # x{2,5} is xx(x(x(x)?)?)?
    return 2 + sub if lo == 0 else 1 + lo * sub


class DepthTracker:
    """Go's parse-time limits RE2 C++ does not have: nesting depth and program size.

    Go refuses a regexp more than 1000 levels deep ("expression nests too deeply") or whose
    program would exceed 128 MiB ("expression too large"); RE2 has no depth limit and sizes
    programs differently, so both are estimated here while scanning, following how Go builds its
    tree: literals merge into strings, concatenations and alternations flatten into their
    parents, alternatives of single characters merge into one class, and capture groups and
    repetitions each add a level. Go's factoring of common prefixes out of alternations is not
    modelled; where it could apply, neither the level nor the duplicated size is counted.
    Wherever the model is unsure it errs low, so it may miss a pattern Go refuses but should not
    refuse one Go accepts. When the structure is broken (an unexpected ')'), tracking stops: Go
    fails there first, and RE2 reports that.

    Go only starts measuring size once the number of nodes it has allocated times the product of
    all repeat counts seen reaches the budget (so a plain literal of any length passes); the node
    count here approximates Go's allocations from below, so measuring starts no earlier.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.fold = False
        self.frames = [_Frame(capture=False, saved_fold=False)]
        self.broken = False
        self.allocated = 0
        self.repeats = 1
        self.measuring = False

    def _limits(self, node: _Node) -> _Node:
        """Go's checkLimits, run on every node it pushes or builds: size first, then height."""
        if not self.measuring and self.allocated >= _MAX_SIZE // self.repeats:
            self.measuring = True
            for frame in self.frames:
                for pending in (*frame.items, *frame.branches):
                    self._check_size(pending)
        if self.measuring:
            self._check_size(node)
        if node.height > _MAX_HEIGHT:
            raise GoSyntaxError(Code.NESTING_DEPTH, self.pattern)
        return node

    def _check_size(self, node: _Node) -> None:
        if node.size > _MAX_SIZE:
            raise GoSyntaxError(Code.LARGE, self.pattern)

    def push(self, node: _Node, *, allocated: bool = True) -> None:
        """Push `node` as Go does; `allocated` is False for a node already counted."""
        if self.broken:
            return
        items = self.frames[-1].items
        self._merge_top_literals(items)
        if allocated:
            self.allocated += 1
        items.append(self._limits(node))

    def _merge_top_literals(self, items: list[_Node]) -> None:
        # Go's maybeConcat, run before every push: the two topmost literals join into a string
        # (and Go reuses the freed node for the next one).
        if len(items) >= 2:
            top, below = items[-1], items[-2]
            if top.kind == below.kind == _LITERAL and (
                top.fold is None or below.fold is None or top.fold == below.fold
            ):
                fold = None if top.fold is None or below.fold is None else top.fold
                runes = below.runes + top.runes
                merged = _Node(_LITERAL, size=runes, runes=runes, fold=fold, lead=below.lead)
                items[-2:] = [merged]
                self.allocated -= 1

    def literals(self, text: str) -> None:
        """Push each character of `text` as a literal.

        Pushed one by one, Go would merge all but the last into one string as it goes (only
        the last can still take a repetition operator); pushing that string and then the last
        character leaves the same stack.
        """
        if self.broken or not text:
            return
        if len(text) > 1:
            head = self._literal(text[0])
            head.runes = head.size = len(text) - 1
            self.push(head)
        self.push(self._literal(text[-1]))

    def _literal(self, ch: str) -> _Node:
        # Go stores a case-folded literal as the smallest rune of its case orbit; casefold()
        # maps a whole orbit to one key too (and at worst joins more, which only lowers the
        # estimate).
        key = ch.casefold() if self.fold else ch
        return _Node(_LITERAL, runes=1, fold=self.fold, lead=("lit", key, self.fold))

    def empty_width(self) -> None:
        """An anchor (`^`, `$`, `\\A`, `\\b`, ...): a node that matches no text."""
        self.push(_Node(_EMPTY_WIDTH))

    def any_char(self) -> None:
        """`.`: a class of (nearly) every character, which never merges with a literal."""
        self.push(_Node(_CLASS, lead=_WILDCARD))

    def class_literal(self) -> None:
        # Go turns a one-character class into a literal; counting every class as a literal
        # that may merge with its neighbours keeps the estimate low.
        self.push(_Node(_LITERAL, runes=1, fold=None, lead=_WILDCARD))

    def repeat(self, lo: int, hi: int, *, counted: bool) -> None:
        """x* (0, -1), x+ (1, -1), x? (0, 1) or a counted x{lo,hi}, applied to the top item."""
        if self.broken:
            return
        items = self.frames[-1].items
        if not items:
            return  # missing argument: Go fails here and RE2 reports it
        sub = items[-1]
        if counted:
            # Go's running product of repeat counts, which decides when to measure size.
            n = hi if hi != -1 else lo
            n = max(n, 1)
            self.repeats = _MAX_SIZE if n > _MAX_SIZE // self.repeats else self.repeats * n
        lead = _WILDCARD if counted and lo == hi and lo > 0 and _is_class_like(sub) else None
        size = _repeat_size(lo, hi, sub.size)
        self.allocated += 1
        items[-1] = self._limits(_Node(_REPEAT, sub.height + 1, size, lead=lead))

    def open_group(self, *, capture: bool, fold: bool) -> None:
        if self.broken:
            self.fold = fold
            return
        self.frames.append(_Frame(capture=capture, saved_fold=self.fold))
        self.fold = fold
        self.allocated += 1  # Go pushes a marker for the '('
        self._limits(_Node(_EMPTY))

    def vertical_bar(self) -> None:
        if self.broken:
            return
        frame = self.frames[-1]
        frame.branches.append(self._concat(frame))
        self.allocated += 1  # and one for the '|'
        self._limits(_Node(_EMPTY))

    def close_group(self) -> None:
        if self.broken:
            return
        frame = self.frames[-1]
        node = self._alternate(frame)
        if len(self.frames) == 1:
            self.broken = True  # unexpected ')'
            return
        self.frames.pop()
        self.fold = frame.saved_fold
        if frame.capture:
            # Go turns the '(' marker into the capture node.
            node = _Node(_CAPTURE, node.height + 1, node.size + 2)
        self.push(node, allocated=False)

    def finish(self) -> None:
        if not self.broken:
            self._alternate(self.frames[-1])

    def _concat(self, frame: _Frame) -> _Node:
        items = frame.items
        frame.items = []
        self._merge_top_literals(items)
        if not items:
            self.allocated += 1
            return self._limits(_Node(_EMPTY))
        if len(items) == 1:
            return self._limits(items[0])
        # A nested concatenation is flattened into this one: its children count, not itself.
        tallest = 0
        size = 0
        for item in items:
            if item.kind == _CONCAT:
                tallest = max(tallest, item.height - 1)
                self.allocated -= 1
            else:
                tallest = max(tallest, item.height)
            size += item.size
        self.allocated += 1
        return self._limits(_Node(_CONCAT, tallest + 1, size, lead=items[0].lead))

    def _alternate(self, frame: _Frame) -> _Node:
        last = self._concat(frame)
        if not frame.branches:
            return last
        alternatives = _Alternatives()
        for branch in [*frame.branches, last]:
            if branch.kind == _ALTERNATE:
                alternatives.splice(branch)
                self.allocated -= 1
            else:
                alternatives.add(branch)
        frame.branches = []
        node = alternatives.node()
        if node.kind == _ALTERNATE:
            self.allocated += 1
        return self._limits(node)
