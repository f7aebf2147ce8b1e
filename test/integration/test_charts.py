# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""bench/charts.py, the PNG charts beside the bench tables: Debian's
gnuplot draws a bar and a line chart of a tiny table (a PNG of the size
asked, its link under the table in the report), and without gnuplot the
table is still written, with one line on stderr and no chart. No Kamailio
here; no gnuplot is a failure (make test installs gnuplot-nox), not a
skip."""

import os
import shutil
import struct
import subprocess
import sys

import pytest

import kam

BENCH = os.path.join(kam.ROOT, "bench")
sys.path.insert(0, BENCH)

import charts  # noqa: E402

TABLE = "| phase | stock | aor |\n|---|---|---|\n| register | 70.5 | 60.8 |\n"


def png_size(path):
    """(width, height) of a PNG file; fails unless it is one."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", (path, head[:8])
    assert head[12:16] == b"IHDR", head
    return struct.unpack(">II", head[16:24])


def draw_tiny(out_dir):
    """A script's whole use of charts.py: the table printed, a bar chart
    (a range, a missing value) and a line chart over sizes."""
    return ("import sys; sys.path.insert(0, %r); import charts\n"
            "out = charts.Output(%r, 'tiny')\n"
            "print(%r, end='')\n"
            "print(out.bar('cpu', 'CPU us per request', 'us',"
            " ['register', 'invite_rand'],"
            " [('stock', [(70.5, 69.3, 71.8), 36.6]),"
            " ('aor', [60.8, None])]))\n"
            "print(out.line('size', 'at a size', 'N', 'us', [10000, 1000000],"
            " [('register', [21.2, 25.4]), ('invite', [25.9, None])]))\n"
            % (BENCH, str(out_dir), TABLE))


def test_a_tiny_table_gets_a_bar_and_a_line_chart_beside_it(tmp_path):
    if not shutil.which("gnuplot"):
        pytest.fail("no gnuplot: tools/install-deps.sh test installs "
                    "gnuplot-nox")
    r = subprocess.run([sys.executable, "-c", draw_tiny(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    for name in ("tiny-cpu", "tiny-size"):
        png = tmp_path / (name + ".png")
        assert str(png) in r.stdout
        assert png_size(png) == (900, 500)
        # the script that drew it, data inline, beside it
        assert (tmp_path / (name + ".gp")).read_text().count("EOD") == 2
    report = (tmp_path / "tiny.md").read_text()
    assert report.startswith(TABLE), report
    assert "![CPU us per request](tiny-cpu.png)" in report
    assert "![at a size](tiny-size.png)" in report


def test_without_gnuplot_the_table_is_written_and_one_line_says_so(tmp_path):
    env = dict(os.environ, GNUPLOT=str(tmp_path / "no-gnuplot"))
    r = subprocess.run([sys.executable, "-c", draw_tiny(tmp_path)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "no " in lines[0] and "gnuplot-nox" in \
        lines[0], r.stderr
    assert r.stdout == TABLE + "None\nNone\n"
    assert (tmp_path / "tiny.md").read_text() == TABLE + "None\nNone\n"
    assert not list(tmp_path.glob("*.png"))


def test_gnuplot_script_quotes_titles_and_marks_missing_values():
    gp = charts.script("x.png", "bar", "it's 1/2", "", "us", ["a\tb", "c"],
                       [("s", [None, (2, 1, 3)])])
    assert "set title 'it''s 1/2'" in gp
    assert "a b\t?\t?\t?" in gp
    assert "c\t2\t1\t3" in gp
    assert "errorbars" in gp
