"""Compares two screens captured with `tmux capture-pane -p -e`, cell by
cell: the text of each cell and its colours and attributes, normalised so
that the form of the SGR sequences does not matter (ESC[31m and
ESC[38;5;1m are both colour 1). A true colour in the reference may show as
the nearest colour of the 256-colour palette (a TUI maps true colour to
what the outer terminal supports): a palette colour within half a step of
the cube per channel passes. Trailing blank cells are ignored (tmux does
not capture cells cleared with a background colour).

    python3 cells.py WANT GOT [ROWS]

compares the first ROWS rows (default: all of WANT). Exit 0 when the same;
else 1 with the differences on stdout. CELLS_IGNORE (attributes, comma-
separated, e.g. "dim") leaves those attributes out of the comparison.

    python3 cells.py --style SCREEN TEXT

prints the colours and attributes of the first cell of the first place
TEXT shows on SCREEN ("plain" when it has none); exit 1 when it does not
show.
"""
import os
import sys
import unicodedata

CUBE = (0, 95, 135, 175, 215, 255)
# how far a palette colour may be from the true colour it stands for
SLACK = 48

ATTRS = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 5: "blink",
         7: "reverse", 8: "hidden", 9: "strike"}
RESETS = {22: ("bold", "dim"), 23: ("italic",), 24: ("underline",),
          25: ("blink",), 27: ("reverse",), 28: ("hidden",), 29: ("strike",)}
# attributes a blank cell shows
VISIBLE_ON_BLANK = {"reverse", "underline", "strike"}


def palette(n):
    if n < 16:
        return None
    if n < 232:
        n -= 16
        return (CUBE[n // 36], CUBE[n // 6 % 6], CUBE[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


def extended(params, i):
    """An extended colour at params[i:] (after 38 or 48): (colour, next)."""
    p = params[i]
    if len(p) > 1:  # colon form: 38:5:N or 38:2:[cs]:R:G:B
        sub = [int(x) if x else 0 for x in p[1:]]
        if sub and sub[0] == 5 and len(sub) >= 2:
            return ("i", sub[1]), i + 1
        if sub and sub[0] == 2 and len(sub) >= 4:
            return ("rgb",) + tuple(sub[-3:]), i + 1
        return None, i + 1
    nums = [q[0] for q in params[i + 1:]]
    if nums[:1] == ["5"] and len(nums) >= 2:
        return ("i", int(nums[1] or 0)), i + 3
    if nums[:1] == ["2"] and len(nums) >= 4:
        return ("rgb", int(nums[1] or 0), int(nums[2] or 0),
                int(nums[3] or 0)), i + 5
    return None, len(params)


def sgr(state, text):
    params = [p.split(":") for p in text.split(";")] if text else [["0"]]
    i = 0
    while i < len(params):
        p = params[i]
        try:
            n = int(p[0] or 0)
        except ValueError:
            i += 1
            continue
        if n == 0:
            state["fg"] = state["bg"] = None
            state["attrs"] = set()
        elif n in ATTRS:
            if n == 4 and len(p) > 1 and p[1] == "0":
                state["attrs"].discard("underline")
            else:
                state["attrs"].add(ATTRS[n])
        elif n == 21:
            state["attrs"].add("underline")
        elif n in RESETS:
            state["attrs"] -= set(RESETS[n])
        elif 30 <= n <= 37:
            state["fg"] = ("i", n - 30)
        elif 90 <= n <= 97:
            state["fg"] = ("i", n - 90 + 8)
        elif 40 <= n <= 47:
            state["bg"] = ("i", n - 40)
        elif 100 <= n <= 107:
            state["bg"] = ("i", n - 100 + 8)
        elif n == 39:
            state["fg"] = None
        elif n == 49:
            state["bg"] = None
        elif n in (38, 48):
            c, i = extended(params, i)
            state["fg" if n == 38 else "bg"] = c
            continue
        i += 1


def parse(text):
    """Rows of cells: [char(s), fg, bg, attrs]."""
    rows = []
    state = {"fg": None, "bg": None, "attrs": set()}
    for line in text.split("\n"):
        cells = []
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\x1b":
                j = i + 1
                if j < len(line) and line[j] == "[":
                    j += 1
                    while j < len(line) and not ("\x40" <= line[j] <= "\x7e"):
                        j += 1
                    if j < len(line) and line[j] == "m":
                        sgr(state, line[i + 2:j])
                    i = j + 1
                elif j < len(line) and line[j] == "]":
                    # OSC: up to BEL or ESC \
                    while j < len(line) and line[j] not in "\x07\x1b":
                        j += 1
                    i = j + (2 if j < len(line) and line[j] == "\x1b" else 1)
                else:
                    i = j + 1
                continue
            if cells and (unicodedata.combining(c) or
                          unicodedata.category(c) in ("Mn", "Me") or
                          c in "\u200d\ufe0f"):
                cells[-1][0] += c
            else:
                cells.append([c, state["fg"], state["bg"],
                              frozenset(state["attrs"])])
            i += 1
        rows.append(cells)
    if rows and not rows[-1]:
        rows.pop()  # the newline after the last row
    return rows


def blank(cell):
    return cell[0] == " " and not (cell[3] & VISIBLE_ON_BLANK)


def trim(cells):
    while cells and blank(cells[-1]):
        cells = cells[:-1]
    return cells


def same_color(want, got):
    if want == got:
        return True
    if want is None or got is None:
        return False
    if want[0] == "rgb":
        have = got[1:] if got[0] == "rgb" else palette(got[1])
        if have is None:
            return False
        return all(abs(a - b) <= SLACK for a, b in zip(want[1:], have))
    return False


IGNORE = frozenset(a for a in os.environ.get("CELLS_IGNORE", "").split(",") if a)


def same_cell(want, got):
    if want[0] != got[0]:
        return False
    want = want[:3] + [want[3] - IGNORE]
    got = got[:3] + [got[3] - IGNORE]
    blanks = want[0] == " "
    wa = want[3] - {"bold", "italic", "dim", "blink"} if blanks else want[3]
    ga = got[3] - {"bold", "italic", "dim", "blink"} if blanks else got[3]
    if wa != ga:
        return False
    # a blank cell's foreground does not show
    if not blanks and not same_color(want[1], got[1]):
        return False
    return same_color(want[2], got[2])


def show(cell):
    if cell is None:
        return "(none)"
    parts = [repr(cell[0])]
    for name, c in (("fg", cell[1]), ("bg", cell[2])):
        if c is not None:
            parts.append("%s=%s" % (name, c[1] if c[0] == "i" else
                                    "#%02x%02x%02x" % c[1:]))
    parts += sorted(cell[3])
    return " ".join(parts)


def compare(want_text, got_text, nrows=None):
    want, got = parse(want_text), parse(got_text)
    if nrows is None:
        nrows = len(want)
    out = []
    for r in range(nrows):
        w = trim(want[r]) if r < len(want) else []
        g = trim(got[r]) if r < len(got) else []
        for c in range(max(len(w), len(g))):
            wc = w[c] if c < len(w) else None
            gc = g[c] if c < len(g) else None
            if wc is None or gc is None or not same_cell(wc, gc):
                out.append("row %d cell %d: want %s, got %s" % (
                    r, c, show(wc), show(gc)))
                out.append("  want: %s" % "".join(x[0] for x in w))
                out.append("  got:  %s" % "".join(x[0] for x in g))
                break
    return out


def style(screen, text):
    for cells in parse(screen):
        line = "".join(c[0] for c in cells)
        at = line.find(text)
        if at < 0:
            continue
        # the cell where the text starts (a cell may hold several chars)
        n = 0
        for cell in cells:
            if n >= at:
                parts = show(cell).split(" ")[1:]
                return " ".join(parts) or "plain"
            n += len(cell[0])
    return None


def main():
    if sys.argv[1] == "--style":
        with open(sys.argv[2], encoding="utf-8", errors="replace") as f:
            s = style(f.read(), sys.argv[3])
        if s is None:
            sys.exit(1)
        print(s)
        return
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        want = f.read()
    with open(sys.argv[2], encoding="utf-8", errors="replace") as f:
        got = f.read()
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else None
    out = compare(want, got, rows)
    if out:
        print("\n".join(out[:30]))
        sys.exit(1)


if __name__ == "__main__":
    main()
