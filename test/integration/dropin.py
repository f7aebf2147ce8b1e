"""The drop-in swap: a kamailio.cfg written for stock registrar+usrloc,
rewritten to load aor instead, as a user following the README would.

swap(text, aor_so) rewrites exactly this, and nothing else:

1. loadmodule lines. A `loadmodule "X"` (or 'X', or loadmodule("X")) whose
   module is registrar or usrloc, named bare ("registrar"), with ".so"
   ("registrar.so") or by a path ("/usr/lib/.../registrar.so",
   "modules/registrar/registrar.so"; a cfg's mpath then does not matter):
   the registrar line becomes `loadmodule "<aor_so>"`; the usrloc line
   becomes a comment, `#[aor drop-in] loadmodule "usrloc.so"`. A cfg that
   loads usrloc without registrar (for pua_usrloc, say) gets aor on the
   usrloc line instead. So the two lines become one, at the place the
   registrar was loaded (after usrloc, as stock needs it). The line count
   stays the same: Kamailio's messages keep their line numbers.
2. modparam module names. In `modparam("M", ...)` the module name M is a
   module name or an alternation of names (Kamailio reads it as a regular
   expression: "nathelper|registrar"); each alternative that is exactly
   registrar or usrloc becomes aor, and a second aor is dropped:
   "registrar" -> "aor", "usrloc" -> "aor", "nathelper|registrar" ->
   "nathelper|aor", "usrloc|registrar" -> "aor",
   "domain|auth_db|usrloc|msilo" -> "domain|auth_db|aor|msilo". Names that
   merely contain the words (pua_usrloc, dmq_usrloc, p_usrloc,
   ims_registrar_scscf) are left alone.

Not rewritten: script function calls (save(), lookup(), registered(), ...
keep their stock names), pseudo-variables ($ulc), event routes
(usrloc:contact-expired), KEMI scripts, RPC names, and files the cfg
includes (include_file / import_file). mpath is left as it is: aor is
loaded by the absolute path aor_so, or by name when aor_so is "aor.so" and
the module is installed in the module directory.
"""

import re

STOCK = ("registrar", "usrloc")

# loadmodule "path" | 'path' | ("path"), up to the end of that statement
_LOADMODULE = re.compile(
    r"""^(?P<indent>[ \t]*)loadmodule[ \t]*\(?[ \t]*(?P<q>["'])"""
    r"""(?P<path>[^"'\n]*)(?P=q)[ \t]*\)?[ \t]*;?""", re.M)
_MODPARAM = re.compile(r"""(modparam\s*\(\s*)(["'])([^"'\n]*)\2""")


def module_of(path):
    """The module a loadmodule argument names: 'registrar' for
    "registrar", "registrar.so", "/usr/lib/kamailio/modules/registrar.so"
    or "modules/registrar/registrar.so"."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    return base[:-3] if base.endswith(".so") else base


def loaded_stock(text):
    """The stock modules (registrar, usrloc) text loads, in order."""
    return [module_of(m.group("path")) for m in _LOADMODULE.finditer(text)
            if module_of(m.group("path")) in STOCK]


def swap_modparam_name(name):
    """'nathelper|registrar' -> 'nathelper|aor' (see the module doc)."""
    out = []
    for alt in name.split("|"):
        if alt.strip() in STOCK:
            alt = "aor"
        if alt == "aor" and "aor" in out:
            continue
        out.append(alt)
    return "|".join(out)


def swap(text, aor_so):
    """text (a kamailio.cfg for registrar+usrloc) with aor loaded from
    aor_so instead and the modparams of registrar and usrloc given to aor,
    as the module doc says. Raises ValueError when text loads neither."""
    mods = loaded_stock(text)
    if not mods:
        raise ValueError("the cfg loads neither registrar nor usrloc")
    aor_on = "registrar" if "registrar" in mods else "usrloc"

    def loadmodule(m):
        mod = module_of(m.group("path"))
        if mod not in STOCK:
            return m.group(0)
        if mod == aor_on:
            return '%sloadmodule "%s"' % (m.group("indent"), aor_so)
        return "%s#[aor drop-in] %s" % (m.group("indent"),
                                        m.group(0).lstrip())

    text = _LOADMODULE.sub(loadmodule, text)

    def modparam(m):
        return "%s%s%s%s" % (m.group(1), m.group(2),
                             swap_modparam_name(m.group(3)), m.group(2))

    return _MODPARAM.sub(modparam, text)
