# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""The bench scripts' output directory: what a script prints, kept as
<dir>/<script>.md, and beside each of its tables a PNG chart drawn by
Debian's gnuplot (gnuplot-nox, which tools/install-deps.sh test installs).

    report = charts.Output(args.out, "bench")   # stdout copied to bench.md
    report.bar("cpu-10000", "CPU us per request, N = 10,000", "us",
               ["register", "invite_rand"],
               [("stock", [70.5, 36.6]), ("aor", [(60.8, 57.1, 64.4), None])])
    report.line("at-size", "...", "AoRs stored", "us", [10000, 1000000],
                [("register", [21.2, 25.4])])

A value is a number, None (not measured: no bar, no point) or a
(median, min, max) triple, drawn with its range as an error bar. Bar
charts are for side-by-side figures and ratios (one group of bars per
label, one bar per series), line charts for a figure over a size (the x
axis logarithmic when the sizes span more than 10x). Each chart is
<dir>/<script>-<table>.png, with the gnuplot script that drew it (its data
inline) beside it as .gp; a markdown image link to it is printed under the
table. Without gnuplot, or if it fails, one line says so on stderr and the
tables are still printed and written: a chart never stops a bench.
"""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(ROOT, "build", "bench")
GNUPLOT = os.environ.get("GNUPLOT", "gnuplot")

_terminal = None  # "pngcairo", "png", or "" when there is no gnuplot


class _Tee:
    """sys.stdout, with every write also going to a file."""

    def __init__(self, out, f):
        self.out, self.f = out, f

    def write(self, s):
        self.f.write(s)
        return self.out.write(s)

    def flush(self):
        self.f.flush()
        self.out.flush()

    def __getattr__(self, name):
        return getattr(self.out, name)


def _warn(msg):
    print("charts: %s; the tables are written without charts" % msg,
          file=sys.stderr, flush=True)


def terminal():
    """gnuplot's PNG terminal ("pngcairo", else "png"), or "" when there
    is no gnuplot or it has neither (said once on stderr)."""
    global _terminal
    if _terminal is not None:
        return _terminal
    _terminal = ""
    if not shutil.which(GNUPLOT):
        _warn("no %s (tools/install-deps.sh test installs gnuplot-nox)"
              % GNUPLOT)
        return _terminal
    for t in ("pngcairo", "png"):
        try:
            r = subprocess.run([GNUPLOT, "-e", "set terminal " + t],
                               capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            break
        if r.returncode == 0:
            _terminal = t
            return _terminal
    _warn("%s has no png terminal" % GNUPLOT)
    return _terminal


def _q(s):
    """s as a gnuplot string literal."""
    return "'%s'" % str(s).replace("'", "''")


def _cell(v):
    """The data columns of one value: y, low, high ("?" when missing)."""
    if v is None:
        return ["?", "?", "?"]
    if isinstance(v, (tuple, list)):
        return ["%.6g" % x for x in v]
    return ["%.6g" % v] * 3


# Okabe and Ito's colours, told apart with colour blindness. The three
# configurations keep theirs in every chart; other series take the rest in
# turn, and a configuration's second line ("aor invite_rand" after "aor
# register") is dashed.
CONFIG_COLOURS = {"bare": "#0072B2", "stock": "#D55E00", "aor": "#009E73"}
OTHER_COLOURS = ("#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")


def _styles(series, dashes=True):
    """A 'lc rgb ...' clause per series, with 'dt N' if dashes."""
    seen, others, out = {}, 0, []
    for name, _ in series:
        config = name.split()[0] if name.strip() else ""
        if config in CONFIG_COLOURS:
            colour = CONFIG_COLOURS[config]
        else:
            colour = OTHER_COLOURS[others % len(OTHER_COLOURS)]
            others += 1
        seen[colour] = seen.get(colour, 0) + 1
        out.append("lc rgb '%s'" % colour +
                   (" dt %d" % seen[colour] if dashes else ""))
    return out


def _bars(labels, series, ranged):
    """The settings and plot clauses of a clustered bar chart."""
    n = len(series)
    sets = ["set style data histograms",
            "set style histogram %s gap 1" % (
                "errorbars lw 1" if ranged else "clustered"),
            "set style fill solid 0.8 border -1", "set boxwidth 0.9",
            "set xtics nomirror%s" % (
                " rotate by 25 right" if len(labels) > 5 else "")]
    plots = []
    for j, ((name, _), style) in enumerate(zip(series,
                                               _styles(series, False))):
        col = 2 + 3 * j
        use = "%d:%d:%d" % (col, col + 1, col + 2) if ranged else str(col)
        plots.append("$data using %s%s %s title %s" % (
            use, ":xtic(1)" if j == 0 else "", style, _q(name)))
    # each bar's value above it (above its range), at the bar's x:
    # cluster i, bar j of n with gap 1 stands at i + (j - (n-1)/2)/(n+1);
    # upright when the bars are too many for them to fit side by side
    crowded = n * len(labels) > 12
    for j in range(n):
        col = 2 + 3 * j
        plots.append("$data using ($0 + %.4f):%d:(sprintf('%%.3g', $%d)) "
                     "with labels %s font ',8' notitle"
                     % ((j - (n - 1) / 2.0) / (n + 1), col + 2, col,
                        "rotate by 90 left offset 0,0.3" if crowded
                        else "offset 0,0.7"))
    return sets, plots


def _lines(xs, series):
    """The settings and plot clauses of a line chart over sizes xs."""
    sets = ["set xtics (%s)" % ", ".join(
        "%s %.6g" % (_q("{:,}".format(x)), x) for x in xs)]
    pos = [x for x in xs if x > 0]
    if pos and max(pos) > 10 * min(pos):
        sets.append("set logscale x")
    plots = ["$data using 1:%d:%d:%d with yerrorlines lw 2 pt 7 %s title %s"
             % (2 + 3 * j, 3 + 3 * j, 4 + 3 * j, style, _q(name))
             for j, ((name, _), style) in enumerate(zip(series,
                                                        _styles(series)))]
    return sets, plots


def script(png, kind, title, xlabel, ylabel, labels, series, term="pngcairo"):
    """The gnuplot script drawing one chart into png (a name relative to
    the directory gnuplot runs in), the data inline."""
    ranged = any(isinstance(v, (tuple, list))
                 for _, vs in series for v in vs)
    rows = []
    for i, label in enumerate(labels):
        cells = [str(label).replace("\t", " ") if kind == "bar"
                 else "%.6g" % label]
        for _, vs in series:
            cells += _cell(vs[i])
        rows.append("\t".join(cells))
    sets, plots = (_bars(labels, series, ranged) if kind == "bar"
                   else _lines(labels, series))
    lines = [
        "set terminal %s size 900,500 noenhanced%s"
        % (term, " font 'DejaVu Sans,10'" if term == "pngcairo" else ""),
        "set output %s" % _q(png),
        "set title %s" % _q(title),
        "set ylabel %s" % _q(ylabel),
        "set xlabel %s" % _q(xlabel),
        "set datafile separator '\\t'",
        "set datafile missing '?'",
        "set key outside right top",
        "set grid ytics",
        "set yrange [0:*]",
        # room above the highest bar's label, and beside the outer points
        "set offsets %s, graph 0.1, 0" % (
            "0, 0" if kind == "bar" else "graph 0.05, graph 0.05"),
        "$data << EOD", *rows, "EOD", *sets,
        "plot " + ", \\\n     ".join(plots),
    ]
    return "\n".join(lines) + "\n"


def draw(png, kind, title, xlabel, ylabel, labels, series):
    """Writes png's gnuplot script beside it (.gp) and runs gnuplot on it.
    Returns True when png was drawn; otherwise says why on stderr, once
    for a missing gnuplot and once per failed chart, and returns False.
    A png of an earlier run goes first, so that none is left undrawn."""
    if os.path.exists(png):
        os.unlink(png)
    term = terminal()
    if not term:
        return False
    if all(v is None for _, vs in series for v in vs):
        print("charts: %s not drawn: no figure in the table" % png,
              file=sys.stderr)
        return False
    gp = os.path.splitext(png)[0] + ".gp"
    with open(gp, "w") as f:
        f.write(script(os.path.basename(png), kind, title, xlabel, ylabel,
                       labels, series, term))
    try:
        r = subprocess.run([GNUPLOT, os.path.basename(gp)],
                           cwd=os.path.dirname(gp) or ".", capture_output=True,
                           text=True, timeout=60)
        err = r.stderr.strip().splitlines()[-1:] if r.returncode else []
    except (OSError, subprocess.TimeoutExpired) as e:
        err = [str(e)]
    if err or not os.path.exists(png):
        if os.path.exists(png):
            os.unlink(png)  # what gnuplot began before its error
        print("charts: %s not drawn: %s" % (png, err[0] if err else
                                           "no output"), file=sys.stderr)
        return False
    return True


class Output:
    """A bench script's output directory. Made if missing; from here on
    what the script prints to stdout is also written to <dir>/<name>.md,
    and bar() and line() draw the charts beside it."""

    def __init__(self, directory, name):
        self.dir = os.path.abspath(directory or DEFAULT_DIR)
        self.name = name
        os.makedirs(self.dir, exist_ok=True)
        self.report = os.path.join(self.dir, name + ".md")
        sys.stdout = _Tee(sys.stdout, open(self.report, "w", buffering=1))

    def _chart(self, kind, table, title, xlabel, ylabel, labels, series):
        png = os.path.join(self.dir, "%s-%s.png" % (self.name, table))
        if draw(png, kind, title, xlabel, ylabel, labels, series):
            print("\n![%s](%s)" % (title, os.path.basename(png)))
            sys.stdout.flush()
            return png
        return None

    def bar(self, table, title, ylabel, labels, series):
        """A bar chart of one table: a group per label (a phase, a request
        kind), a bar per series (bare, stock, aor). Returns the PNG's path,
        or None when it was not drawn."""
        return self._chart("bar", table, title, "", ylabel, labels, series)

    def line(self, table, title, xlabel, ylabel, xs, series):
        """A line chart of one figure over sizes xs (numbers), a line per
        series. Returns the PNG's path, or None when it was not drawn."""
        return self._chart("line", table, title, xlabel, ylabel, xs, series)
