"""The module documentation (doc/aor_admin.xml, DocBook, rendered by
`make doc` to modules/aor/README) covers everything the module exports.

What is exported is read from the code, never from a list kept here: the
param_export_t, cmd_export_t, rpc_export_t, counter_def_t and sr_kemi_t
tables and the event route names in modules/aor/*.c ($AOR_SRC), each entry
of a table parsed or the test fails. A running Kamailio then confirms the
reading: its system.listMethods and stats.get_statistics aor: list the
same RPC commands and counters, and `kamailio -c` accepts every documented
modparam example (name and type) and every documented script example.

Doc sections are found by their ids (STYLE.md): aor.p.<param>,
aor.f.<function>, aor.r.<rpc without "aor."> (aor.r.ul.dump for usrloc's
ul.* names), aor.s.<counter>,
aor.e.<event without "aor:">, aor.k.<KEMI function>.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

import kam as kammod

SRC = os.environ.get("AOR_SRC", os.path.join(kammod.ROOT, "modules", "aor"))
DOC = os.path.join(kammod.ROOT, "doc", "aor_admin.xml")
README = os.path.join(kammod.ROOT, "modules", "aor", "README")
README_MD = os.path.join(kammod.ROOT, "README.md")


# -- what the code exports --------------------------------------------------

def _sources():
    text = {}
    for path in sorted(glob.glob(os.path.join(SRC, "*.c"))):
        with open(path) as f:
            # comments out, so that a commented-out entry does not count
            text[path] = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
    assert text, "no C sources under %s (AOR_SRC)" % SRC
    return text


def _table_entries(ctype):
    """The entries of every `<ctype> name[] = { ... };` table in the
    sources, as (file, entry text), the terminating all-zero entry left
    out."""
    out = []
    for path, text in _sources().items():
        for m in re.finditer(r"\b%s\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\};"
                             % ctype, text, flags=re.S):
            body = m.group(1)
            # top-level { ... } entries (an entry may nest braces)
            depth, start, outside = 0, None, ""
            for i, ch in enumerate(body):
                if ch == "{":
                    if depth == 0:
                        start = i
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        out.append((path, body[start:i + 1]))
                elif depth == 0:
                    outside += ch
            # an entry made by a macro would be invisible here
            assert not outside.replace(",", "").split(), (
                "cannot read this %s table of %s: %s" % (
                    ctype, os.path.basename(path),
                    " ".join(outside.replace(",", " ").split())))
    return [(p, e) for p, e in out
            if not re.fullmatch(r"\{[\s0,{}NUL]*\}", e)]


def _parse(ctype, regex):
    """Every entry of the ctype tables through regex; an entry that does
    not match fails the test (an export the test cannot see is a gap)."""
    found = []
    entries = _table_entries(ctype)
    assert entries, "no %s table found in %s" % (ctype, SRC)
    for path, entry in entries:
        m = re.match(regex, entry, flags=re.S)
        assert m, "cannot read this %s entry of %s: %s" % (
            ctype, os.path.basename(path), " ".join(entry.split()))
        found.append(m.groups())
    return found


def code_params():
    """{name: (type, target)} from param_export_t."""
    rows = _parse("param_export_t",
                  r'\{\s*"(\w+)"\s*,\s*([A-Z_| ]+?)\s*,'
                  r'\s*(?:\(void\s*\*\)\s*)?&?([\w.>-]+)\s*\}')
    return {n: ("string" if "STR" in t else "integer", target)
            for n, t, target in rows}


def code_functions():
    """{name: set of parameter counts} from cmd_export_t."""
    rows = _parse("cmd_export_t",
                  r'\{\s*"(\w+)"\s*,\s*\(cmd_function\)\s*\w+\s*,\s*(\d+)')
    out = {}
    for name, n in rows:
        out.setdefault(name, set()).add(int(n))
    return out


def code_rpcs():
    return {n for (n,) in _parse("rpc_export_t", r'\{\s*"([\w.]+)"\s*,')}


def rpc_id(name):
    """The doc section id suffix of an RPC command: aor.show -> show,
    ul.dump (usrloc's names, rpc_ul.c) -> ul.dump."""
    return name[4:] if name.startswith("aor.") else name


def code_counters():
    return {n for (n,) in _parse("counter_def_t",
                                 r'\{\s*&?[^,]+,\s*"(\w+)"\s*,')}


def code_kemi():
    return {n for (n,) in _parse(
        "sr_kemi_t",
        r'\{\s*str_init\("aor"\)\s*,\s*str_init\("(\w+)"\)')}


def code_events():
    names = set()
    for text in _sources().values():
        names |= set(re.findall(r'"(aor:[a-z][a-z-]*)"', text))
    assert names, "no event route names (\"aor:...\") in %s" % SRC
    return names


def code_default(target):
    """The initial value of a modparam's variable as a Python value (int,
    str or None): `&aor_params.x` from the designated initializer of
    aor_params, `&x` from `x = ...;`. Symbolic constants are resolved from
    #define and enum lines; a variable with no initializer is 0 or NULL."""
    src = "\n".join(_sources().values())
    if "." in target:
        var, field = target.split(".", 1)
        m = re.search(r"\b%s\s*=\s*\{(.*?)\n\s*\};" % re.escape(var), src,
                      flags=re.S)
        assert m, "no initializer of %s" % var
        m = re.search(r"\.%s\s*=\s*([^,\n]+?)\s*,?\s*\n" % re.escape(field),
                      m.group(1) + "\n")
    else:
        m = re.search(r"\b%s\s*=\s*([^;{]+?)\s*;" % re.escape(target), src)
    if not m:
        return None
    return _value(m.group(1).strip())


def _value(v):
    if v == "NULL":
        return None
    if v.startswith('"'):
        return v.strip('"')
    v = v.strip("()")
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    headers = ""
    for path in glob.glob(os.path.join(SRC, "*.[ch]")):
        with open(path) as f:
            headers += f.read()
    m = (re.search(r"#define\s+%s\s+\(?(-?\d+)\)?" % re.escape(v), headers)
         or re.search(r"\b%s\s*=\s*(-?\d+)" % re.escape(v), headers))
    assert m, "cannot resolve the default %s" % v
    return int(m.group(1))


# -- what the documentation says --------------------------------------------

def doc_text():
    with open(DOC, encoding="iso-8859-1") as f:
        return f.read()


def doc_sections():
    """{id: text of the section up to the next section id}"""
    text = doc_text()
    marks = list(re.finditer(r'<section id="([^"]+)">', text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group(1)] = text[m.end():end]
    return out


def doc_ids(prefix):
    return {k[len(prefix):] for k in doc_sections() if k.startswith(prefix)}


def missing(what, names, prefix):
    gap = sorted(set(names) - doc_ids(prefix))
    assert not gap, ("%s without a <section id=\"%s...\"> in doc/aor_admin.xml:"
                     " %s" % (what, prefix, ", ".join(gap)))


def _examples(section):
    """The programlisting bodies of a doc section, entities decoded."""
    out = []
    for body in re.findall(r"<programlisting[^>]*>(.*?)</programlisting>",
                           section, flags=re.S):
        body = (body.replace("&lt;", "<").replace("&gt;", ">")
                .replace("&quot;", '"').replace("&amp;", "&"))
        out.append(body)
    return out


# -- the code against the doc -----------------------------------------------

def test_every_modparam_has_a_doc_section():
    missing("modparams", code_params(), "aor.p.")


def test_every_modparam_doc_gives_type_default_and_example():
    sections = doc_sections()
    bad = []
    for name, (ptype, target) in sorted(code_params().items()):
        sec = sections.get("aor.p." + name)
        if sec is None:
            continue  # reported by the test above
        title = re.search(r"<title><varname>%s</varname> \((\w+)\)</title>"
                          % name, sec)
        if not title or title.group(1) != ptype:
            bad.append("%s: title should say (%s)" % (name, ptype))
        dm = re.search(r"Default value is (.+?)\.?\s*</emphasis>", sec, re.S)
        want = code_default(target)
        # a field a designated initializer leaves out is zero (C11 6.7.9)
        if want is None and ptype == "integer":
            want = 0
        if not dm:
            bad.append("%s: no 'Default value is ...'" % name)
        else:
            quoted = re.match(r'"[^"]*"', dm.group(1))
            said = quoted.group(0) if quoted else \
                dm.group(1).split()[0].rstrip(".")
            if want is None or want == "":
                ok = said in ("NULL", '""')
            elif isinstance(want, int):
                ok = said == str(want)
            else:
                ok = said == '"%s"' % want
            if not ok:
                bad.append("%s: doc default %s, code default %r"
                           % (name, said, want))
        if 'modparam("aor", "%s",' % name not in "".join(_examples(sec)):
            bad.append('%s: no modparam("aor", "%s", ...) example'
                       % (name, name))
    assert not bad, "\n".join(bad)


def test_every_function_has_a_doc_section_with_its_parameters():
    funcs = code_functions()
    missing("script functions", funcs, "aor.f.")
    sections = doc_sections()
    bad = []
    for name, counts in sorted(funcs.items()):
        sec = sections.get("aor.f." + name, "")
        m = re.search(r"<function[^>]*>%s\((.*?)\)</function>" % name, sec)
        if not m:
            bad.append("%s: no <function>%s(...)</function> title"
                       % (name, name))
            continue
        sig = m.group(1)
        required = len([p for p in sig.split("[")[0].split(",") if p.strip()])
        total = len([p for p in re.split(r"[,\[\]]", sig) if p.strip()])
        if (required, total) != (min(counts), max(counts)):
            bad.append("%s(%s): documents %d..%d parameters, exported with "
                       "%s" % (name, sig, required, total, sorted(counts)))
        if "Return codes" not in sec:
            bad.append("%s: no return codes" % name)
        if not _examples(sec):
            bad.append("%s: no example" % name)
    assert not bad, "\n".join(bad)


def test_every_rpc_command_has_a_doc_section_with_an_example():
    rpcs = code_rpcs()
    assert all(r.startswith(("aor.", "ul.")) for r in rpcs), rpcs
    missing("RPC commands", {rpc_id(r) for r in rpcs}, "aor.r.")
    sections = doc_sections()
    noex = [r for r in sorted(rpcs)
            if not any(r in ex for ex in
                       _examples(sections.get("aor.r." + rpc_id(r), "")))]
    assert not noex, "RPC commands without an example: %s" % noex


def test_every_counter_has_a_doc_section():
    missing("counters", code_counters(), "aor.s.")


def test_every_event_route_and_kemi_function_is_documented():
    missing("event routes", {e[4:] for e in code_events()}, "aor.e.")
    missing("KEMI functions", code_kemi(), "aor.k.")


def test_a_new_undocumented_modparam_is_caught(tmp_path, monkeypatch):
    """The check above can fail: a copy of the sources with one more
    modparam is missing from the doc."""
    src = str(tmp_path / "aor")
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("*.o", "*.so",
                                                            "*.d"))
    path = os.path.join(src, "aor_mod.c")
    with open(path) as f:
        text = f.read()
    text, n = re.subn(r'(param_export_t\s+\w+\s*\[\s*\]\s*=\s*\{)',
                      r'\1\n\t{"undocumented_knob", PARAM_INT, &x},', text)
    assert n == 1
    with open(path, "w") as f:
        f.write(text)
    monkeypatch.setattr(sys.modules[__name__], "SRC", src)
    assert "undocumented_knob" in code_params()
    with pytest.raises(AssertionError, match="undocumented_knob"):
        test_every_modparam_has_a_doc_section()


# -- a running Kamailio against the code and the doc ------------------------

def test_running_kamailio_lists_the_documented_rpc_commands(kam):
    listed = {m.strip() for m in kam.kamcmd("system.listMethods").split()
              if m.strip().startswith(("aor.", "ul."))}
    assert listed == code_rpcs(), (
        "system.listMethods and the rpc_export_t tables differ: "
        "running only %s, code only %s"
        % (sorted(listed - code_rpcs()), sorted(code_rpcs() - listed)))
    missing("RPC commands (system.listMethods)",
            {rpc_id(r) for r in listed}, "aor.r.")


def test_running_kamailio_counters_are_documented(kam):
    out = kam.kamcmd("stats.get_statistics", "aor:")
    running = set(re.findall(r"^aor:(\w+)\s*=", out, flags=re.M))
    assert code_counters() <= running, (
        "counters in the code but not in stats.get_statistics aor:: %s"
        % sorted(code_counters() - running))
    # per-table gauges are documented once, as <table>_<what>
    names = {re.sub(r"^location_", "table_", n) for n in running}
    missing("counters (stats.get_statistics aor:)", names, "aor.s.")


def _kamailio_check(tmp_path, body):
    """`kamailio -c` of a cfg with the harness's modules, aor and body;
    returns (ok, output, cfg lines)."""
    mods = "\n".join('loadmodule "%s"' % m for m in kammod.BASE_MODULES)
    cfg = ('#!KAMAILIO\nmpath="%s"\n%s\nloadmodule "%s"\n%s\n'
           % (kammod.MPATH, mods, kammod.AOR_SO, body))
    path = str(tmp_path / "doc-check.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    r = subprocess.run([kammod.KAMAILIO, "-c", "-f", path],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0, r.stdout + r.stderr, cfg.splitlines()


def test_kamailio_accepts_every_documented_modparam_example(tmp_path):
    """Each documented modparam("aor", ...) example names a parameter the
    module has, with a value of its type (Kamailio refuses either
    mismatch)."""
    exported = code_params()
    lines = []
    for sid, sec in sorted(doc_sections().items()):
        if not sid.startswith("aor.p.") or sid[6:] not in exported:
            continue  # documented ahead of the code (issue 4): not loadable
        for ex in _examples(sec):
            lines += re.findall(r'^modparam\("aor",.*$', ex, flags=re.M)
    assert len(lines) >= len(exported)
    ok, out, cfg = _kamailio_check(
        tmp_path, "\n".join(lines) + "\nrequest_route {\n\texit;\n}\n")
    if not ok:
        m = re.search(r"line (\d+)", out)
        line = cfg[int(m.group(1)) - 1] if m else "?"
        pytest.fail("kamailio -c refuses a doc example: %s\n%s"
                    % (line, out[-2000:]))


def test_kamailio_accepts_every_documented_script_example(tmp_path):
    """The examples of the functions and event routes parse, with the
    exported names and numbers of parameters."""
    routes, events = [], []
    for sid, sec in sorted(doc_sections().items()):
        for ex in _examples(sec):
            body = "\n".join(l for l in ex.splitlines() if l.strip() != "...")
            if sid.startswith("aor.f."):
                routes.append("route[DOC_%s] {\n%s\n}" % (sid[6:], body))
            elif sid.startswith("aor.e."):
                events.append(body)
    assert routes and events
    ok, out, _ = _kamailio_check(
        tmp_path, "\n".join(routes + events)
        + "\nrequest_route {\n\texit;\n}\n")
    assert ok, "kamailio -c refuses a doc example:\n%s" % out[-2000:]


# -- the rendered README ----------------------------------------------------

def test_readme_mentions_every_export():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    names = (set(code_params()) | set(code_functions()) | code_rpcs()
             | code_counters() | code_events() | code_kemi())
    gap = sorted(n for n in names if not re.search(
        r"(?<!\w)%s(?!\w)" % re.escape(n), text))
    assert not gap, ("modules/aor/README does not mention %s: edit "
                     "doc/aor_admin.xml and run make doc" % ", ".join(gap))


def test_readme_is_rendered_from_the_current_doc(tmp_path):
    """`make doc-render` into a temporary directory gives the committed
    README byte for byte, and the HTML."""
    ksrc = os.environ.get("KAMAILIO_SRC", "")
    need = [t for t in ("xsltproc", "lynx", "make") if not shutil.which(t)]
    if not os.path.isdir("/usr/share/xml/docbook/stylesheet/docbook-xsl"):
        need.append("docbook-xsl")
    if need:
        pytest.skip("make doc needs %s (tools/install-deps.sh doc)"
                    % ", ".join(need))
    if ksrc and not os.path.isdir(os.path.join(ksrc, "doc", "docbook")):
        pytest.skip("no doc/docbook in KAMAILIO_SRC=%s" % ksrc)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = tmp_path / "README"
    html = tmp_path / "html"
    cmd = ["make", "-s", "-C", kammod.ROOT, "doc-render",
           "DOC_README=%s" % out, "DOC_HTML_DIR=%s" % html]
    if ksrc:
        cmd.append("KAMAILIO_SRC=%s" % ksrc)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, "make doc-render failed:\n%s%s" % (r.stdout,
                                                                r.stderr)
    assert (html / "aor.html").stat().st_size > 0
    with open(README, encoding="utf-8") as f:
        committed = f.read()
    assert out.read_text(encoding="utf-8") == committed, (
        "modules/aor/README is not what doc/*.xml renders to: run make doc "
        "and commit modules/aor/README")


# -- README.md: the parameter table and the migration guide -----------------

def _migration_rows():
    """(stock names, what aor does) of README.md's migration table."""
    with open(README_MD, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"\n\| stock parameter \(module\) \|.*?\n\n", text, re.S)
    assert m, "README.md has no migration table ('| stock parameter (module) |')"
    rows = []
    for line in m.group(0).splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2:
            rows.append((re.findall(r"`([a-z_*]+)`", cells[0]), cells[1]))
    return text, rows


def test_readme_md_names_every_modparam_and_maps_stock_ones_truly():
    """README.md lists every modparam; the migration guide keeps only
    parameters aor has and deletes only parameters it lacks."""
    params = set(code_params())
    text, rows = _migration_rows()
    gap = sorted(p for p in params if "`%s`" % p not in text)
    assert not gap, "README.md does not mention modparams %s" % gap
    bad = []
    for names, action in rows:
        for n in names:
            if action == "same name" and n not in params:
                bad.append("%s: the guide keeps it, aor has no such "
                           "modparam" % n)
            if action == "delete" and n in params:
                bad.append("%s: the guide says delete, aor has it" % n)
    assert not bad, "\n".join(bad)
